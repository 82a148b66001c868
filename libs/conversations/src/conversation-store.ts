// The conversation history in PostgreSQL: tenant-scoped reads, and each turn appended in one transaction.
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, IdGenerator, NotFoundError, PreparedStatement } from '@lib/core';
import type { ChatMessage } from '@lib/llm';
import { ConversationEntity, MessageEntity } from './entities';
import type {
  AppendedTurn,
  Conversation,
  LlmCallRecord,
  NewConversation,
  Page,
  RunBirth,
  StoredMessage,
  TurnRecord,
} from './records';

const TITLE_LENGTH = 80;

/**
 * A turn whose lock expired while it ran, after which another turn took the conversation and stored its own:
 * the stale turn's messages are refused (its model calls are still recorded as billed).
 */
export class ConversationTakenOverError extends DomainError {
  constructor(readonly conversationId: string) {
    super(
      'conversation_busy',
      `Conversation ${conversationId} was taken over by another turn after this turn lost its lock; this turn's messages were not stored.`,
    );
  }
}

/**
 * Inserts the model calls given as a JSON array (see `callRows`) for tenant $2, conversation `conversation` and
 * agent `agent`; `from` may add a table whose emptiness stops the insert (the locked conversation of a turn).
 * A call whose row exists already (its id: a run executed again replays the calls an earlier execution recorded,
 * e.g. as the orphan calls of a failed attempt) is skipped; the totals add what was inserted (`calls` answers it).
 */
const insertCalls = (conversation: string, agent: string, calls: string, from = '') => `
  INSERT INTO llm_calls (id, tenant_id, conversation_id, agent_name, model, input_tokens, output_tokens,
    cache_creation_input_tokens, cache_read_input_tokens, cost_usd, latency_ms, time_to_first_token_ms,
    stop_reason, status, unknown_model_price, api_key_id, task_id)
  SELECT c.id, $2, ${conversation}, ${agent}, c.model, c.input_tokens, c.output_tokens, c.cache_creation_input_tokens,
         c.cache_read_input_tokens, c.cost_usd, c.latency_ms, c.time_to_first_token_ms, c.stop_reason, c.status,
         c.unknown_model_price, c.api_key_id, c.task_id
    FROM ${from}jsonb_to_recordset(${calls}::jsonb) AS c(id uuid, model text, input_tokens int, output_tokens int,
      cache_creation_input_tokens int, cache_read_input_tokens int, cost_usd numeric, latency_ms int,
      time_to_first_token_ms int, stop_reason text, status text, unknown_model_price boolean, api_key_id uuid,
      task_id uuid)
  ON CONFLICT (id) DO NOTHING
  RETURNING input_tokens + cache_creation_input_tokens + cache_read_input_tokens AS input, output_tokens AS output,
    cost_usd AS cost`;

/**
 * A turn in one statement: lock the conversation row, insert the messages numbered from its count and the model
 * calls, and add the turn to its totals. Nothing is written when the conversation is gone (or another tenant's),
 * nor when a lease newer than the turn's ($10, its fencing token; null: unfenced) has already written to it. The
 * row lock makes the fence check see the latest committed fence, so two appends cannot both pass it stale.
 */
const appendTurn = (run: boolean) => `
WITH conv AS (
  SELECT message_count FROM conversations
   WHERE id = $1 AND tenant_id = $2 AND ($10::bigint IS NULL OR fence <= $10::bigint) FOR UPDATE
), msgs AS (
  INSERT INTO messages (id, conversation_id, seq, role, content)
  SELECT m.id, $1, conv.message_count + m.ord - 1, m.role, m.content
    FROM conv, unnest($3::uuid[], $4::text[], $5::jsonb[]) WITH ORDINALITY AS m(id, role, content, ord)
), calls AS (${insertCalls('$1', '$6', '$7', 'conv, ')}${run ? RUN_ENDING : ''}
), added AS (
  SELECT COALESCE(sum(input), 0) AS input, COALESCE(sum(output), 0) AS output, COALESCE(sum(cost), 0) AS cost
    FROM calls
)
UPDATE conversations SET
  message_count = message_count + $8, input_tokens = input_tokens + added.input,
  output_tokens = output_tokens + added.output, cost_usd = cost_usd + added.cost, title = COALESCE(title, $9),
  last_message_at = now(), last_activity_at = now(), fence = GREATEST(fence, COALESCE($10::bigint, fence))
FROM added
WHERE id = $1 AND tenant_id = $2 AND EXISTS (SELECT 1 FROM conv)
RETURNING conversations.cost_usd${run ? ', EXISTS (SELECT 1 FROM ended) AS run_recorded, (SELECT queued_behind FROM ended) AS run_queued_behind' : ''}`;

/**
 * A run's turn also writes the run's journal steps not written yet ($11, a JSON array of RunStepRow) and records
 * the run's end as RunRepository.finish does (same columns, same guards: a run that has ended stays as it is, and
 * a newer execution's fence wins), in the statement that stores the turn: the turn and its run end together.
 */
const RUN_ENDING = `
), steps AS (
  INSERT INTO run_steps (run_id, step, kind, tool_use_id, data)
  SELECT $12, s.step, s.kind, s.tool_use_id, s.data
    FROM conv, jsonb_to_recordset($11::jsonb) AS s(step int, kind text, tool_use_id text, data jsonb)
), ended AS (
  UPDATE runs r SET status = $13, stop_reason = $14, error = NULL, input_tokens = $15, output_tokens = $16,
    cost_usd = $17, last_seq = GREATEST(r.last_seq, $18), finished_at = now(), started_at = COALESCE(r.started_at, now())
    FROM conv
   WHERE r.id = $12 AND r.status IN ('queued', 'running', 'requires_action')
     AND ($10::bigint IS NULL OR r.fence IS NULL OR r.fence <= $10::bigint)
  RETURNING EXISTS (SELECT 1 FROM runs q WHERE q.conversation_id = r.conversation_id AND q.status = 'queued')
    AS queued_behind`;

const APPEND_TURN = new PreparedStatement<Pick<ConversationEntity, 'cost_usd'>>(
  'conversations_append_turn',
  appendTurn(false),
);
const APPEND_RUN_TURN = new PreparedStatement<
  Pick<ConversationEntity, 'cost_usd'> & { run_recorded: boolean; run_queued_behind: boolean | null }
>('conversations_append_run_turn', appendTurn(true));

const INSERT_CONVERSATION = `INSERT INTO conversations (id, tenant_id, agent_name, title, temperature, max_iterations,
  metadata, cost_limit_usd, agent_id, agent_version, max_context_tokens, require_approval)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`;

/**
 * A new conversation and its first run (see ConversationStore.ensureWithRun): $13 the run's fencing token, then the
 * run's id, source, message, API key, task, priority and message content. The run is inserted only with the
 * conversation (the foreign key is checked at the end of the statement, when both rows exist).
 */
const ENSURE_WITH_RUN = new PreparedStatement(
  'conversations_ensure_with_run',
  `
WITH conv AS (
  INSERT INTO conversations (id, tenant_id, agent_name, title, temperature, max_iterations, metadata,
    cost_limit_usd, agent_id, agent_version, max_context_tokens, require_approval, fence)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::bigint)
  ON CONFLICT (id) DO NOTHING RETURNING id
)
INSERT INTO runs (id, tenant_id, conversation_id, agent_name, source, status, message, api_key_id, task_id,
  priority, started_at, message_content, fence)
SELECT $14, $2, conv.id, $3, $15, 'running', $16, $17, $18, $19, now(), $20::jsonb, $13::bigint FROM conv
RETURNING 1`,
);

/**
 * An existing conversation's history, read under its lock, and its new running run (see
 * ConversationStore.historyWithRun): the conversation records the run's fencing token ($3) and the run is inserted
 * unless a run of the conversation waits for a decision, both as RunRepository.insert does; then the run's id,
 * agent, source, message, API key, task, priority and message content. One row: whether the run was inserted, and
 * the history as a JSON array in order.
 */
const HISTORY_WITH_RUN = new PreparedStatement<{ run_inserted: boolean; history: ChatMessage[] }>(
  'conversations_history_with_run',
  `
WITH fenced AS (
  UPDATE conversations SET fence = GREATEST(fence, $3::bigint) WHERE id = $1 AND tenant_id = $2
), run AS (
  INSERT INTO runs (id, tenant_id, conversation_id, agent_name, source, status, message, api_key_id, task_id,
    priority, started_at, message_content, fence)
  SELECT $4, $2, $1, $5, $6, 'running', $7, $8, $9, $10, now(), $11::jsonb, $3::bigint
   WHERE NOT EXISTS (SELECT 1 FROM runs w WHERE w.conversation_id = $1 AND w.status = 'requires_action')
  RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM run) AS run_inserted,
  COALESCE((SELECT json_agg(json_build_object('role', m.role, 'content', m.content) ORDER BY m.seq)
              FROM messages m JOIN conversations c ON c.id = m.conversation_id AND c.tenant_id = $2
             WHERE m.conversation_id = $1), '[]'::json) AS history`,
);

const REMOVE_RUN = new PreparedStatement(
  'conversations_remove_run',
  `DELETE FROM runs WHERE id = $1 AND status = 'running' AND NOT EXISTS (SELECT 1 FROM run_steps s WHERE s.run_id = $1)`,
);

const ENSURE = new PreparedStatement(
  'conversations_ensure',
  `${INSERT_CONVERSATION} ON CONFLICT (id) DO NOTHING RETURNING 1`,
);

const GET = new PreparedStatement<ConversationEntity>(
  'conversations_get',
  `SELECT * FROM conversations WHERE id = $1 AND tenant_id = $2`,
);

const HISTORY = new PreparedStatement<Pick<MessageEntity, 'role' | 'content'>>(
  'conversations_history',
  `SELECT m.role, m.content FROM messages m
   JOIN conversations c ON c.id = m.conversation_id AND c.tenant_id = $2
   WHERE m.conversation_id = $1 ORDER BY m.seq`,
);

/**
 * Model calls of a failed turn, in one statement: on the conversation when it is still there (and its totals
 * grow), else on no conversation.
 */
const RECORD_ORPHAN_CALLS = `
WITH target AS (
  SELECT id FROM conversations WHERE id = $1 AND tenant_id = $2
), calls AS (${insertCalls('(SELECT id FROM target)', '$3', '$4')}
), added AS (
  SELECT COALESCE(sum(input), 0) AS input, COALESCE(sum(output), 0) AS output, COALESCE(sum(cost), 0) AS cost
    FROM calls
)
UPDATE conversations SET input_tokens = input_tokens + added.input, output_tokens = output_tokens + added.output,
  cost_usd = cost_usd + added.cost
FROM added
WHERE id = (SELECT id FROM target)`;

/** A new run's columns after its id (and agent) in ENSURE_WITH_RUN and HISTORY_WITH_RUN, in their order. */
function birthValues(run: RunBirth): unknown[] {
  return [run.source, run.message, run.apiKeyId, run.taskId, run.priority, run.messageContent];
}

/** The calls as the JSON array `insertCalls` reads, each with its id (a new one when it has none). */
function callRows(calls: LlmCallRecord[], ids: IdGenerator): string {
  return JSON.stringify(
    calls.map((c) => ({
      ...c,
      id: c.id ?? ids.uuid(),
      status: c.status ?? 'completed',
      unknown_model_price: c.unknown_model_price ?? false,
      api_key_id: c.api_key_id ?? null,
      task_id: c.task_id ?? null,
    })),
  );
}

function toConversation(row: ConversationEntity): Conversation {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    agentName: row.agent_name,
    agentPin:
      row.agent_id && row.agent_version ? { agentId: row.agent_id, version: row.agent_version } : null,
    title: row.title,
    status: row.status,
    temperature: row.temperature,
    maxIterations: row.max_iterations,
    metadata: row.metadata,
    messageCount: row.message_count,
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    costUsd: Number(row.cost_usd),
    costLimitUsd:
      row.cost_limit_usd === null || row.cost_limit_usd === undefined ? null : Number(row.cost_limit_usd),
    maxContextTokens: row.max_context_tokens ?? null,
    toolResultsClearedBefore: row.tool_results_cleared_before ?? 0,
    requireApproval: row.require_approval ?? [],
    createdAt: new Date(row.created_at),
    lastMessageAt: row.last_message_at ? new Date(row.last_message_at) : null,
  };
}

/** A title from the first user message, when the client gave none. */
export function titleFrom(messages: ChatMessage[]): string | null {
  const first = messages.find((m) => m.role === 'user');
  if (!first) return null;
  const text =
    typeof first.content === 'string'
      ? first.content
      : first.content.map((b) => (b.type === 'text' ? b.text : '')).join(' ');
  const oneLine = text.replace(/\s+/g, ' ').trim();
  if (!oneLine) return null;
  return oneLine.length <= TITLE_LENGTH ? oneLine : `${oneLine.slice(0, TITLE_LENGTH - 1)}…`;
}

@Injectable()
export class ConversationStore {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ids: IdGenerator,
  ) {}

  async create(tenantId: string, input: NewConversation): Promise<Conversation> {
    const rows = await this.insert(tenantId, input);
    return toConversation(rows[0]);
  }

  /** Creates the conversation unless it exists; true when this call created it. */
  async ensure(tenantId: string, input: NewConversation): Promise<boolean> {
    const rows = await ENSURE.run(this.dataSource, this.conversationValues(tenantId, input));
    return rows.length > 0;
  }

  /**
   * Creates the conversation unless it exists and, when this call created it, the running run that is its first
   * turn, in one statement: the conversation records the run's fencing token as RunRepository.insert would (a new
   * conversation has no run waiting for a decision, the one case in which that insert refuses). Answers whether
   * this call created them; a conversation that existed is left as it was, and the caller inserts the run.
   */
  async ensureWithRun(
    tenantId: string,
    input: NewConversation,
    run: RunBirth,
    fence: number,
  ): Promise<boolean> {
    const rows = await ENSURE_WITH_RUN.run(this.dataSource, [
      ...this.conversationValues(tenantId, input),
      fence,
      run.id,
      ...birthValues(run),
    ]);
    return rows.length > 0;
  }

  private insert(
    tenantId: string,
    input: NewConversation,
    tail = 'RETURNING *',
  ): Promise<ConversationEntity[]> {
    return this.dataSource.query(`${INSERT_CONVERSATION} ${tail}`, this.conversationValues(tenantId, input));
  }

  /** The parameters $1–$12 of INSERT_CONVERSATION. */
  private conversationValues(tenantId: string, input: NewConversation): unknown[] {
    return [
      input.id,
      tenantId,
      input.agentName,
      input.title ?? null,
      input.temperature ?? null,
      input.maxIterations ?? null,
      JSON.stringify(input.metadata ?? {}),
      input.costLimitUsd ?? null,
      input.agentPin?.agentId ?? null,
      input.agentPin?.version ?? null,
      input.maxContextTokens ?? null,
      input.requireApproval ?? [],
    ];
  }

  /** Removes a conversation that has no messages (a first turn that failed). */
  async deleteIfEmpty(tenantId: string, id: string): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM conversations WHERE id = $1 AND tenant_id = $2 AND message_count = 0`,
      [id, tenantId],
    );
  }

  /** The conversation, or NotFoundError — also when it belongs to another tenant. */
  async get(tenantId: string, id: string): Promise<Conversation> {
    const rows = await GET.run(this.dataSource, [id, tenantId]);
    if (!rows.length) throw new NotFoundError(`Conversation ${id}`);
    return toConversation(rows[0]);
  }

  async list(tenantId: string, page: number, pageSize: number): Promise<Page<Conversation>> {
    const [rows, count] = await Promise.all([
      this.dataSource.query(
        `SELECT * FROM conversations WHERE tenant_id = $1
         ORDER BY last_activity_at DESC, id DESC LIMIT $2 OFFSET $3`,
        [tenantId, pageSize, (page - 1) * pageSize],
      ) as Promise<ConversationEntity[]>,
      this.dataSource.query(`SELECT count(*)::int AS total FROM conversations WHERE tenant_id = $1`, [
        tenantId,
      ]) as Promise<Array<{ total: number }>>,
    ]);
    return { items: rows.map(toConversation), total: count[0].total };
  }

  /** The stored messages in order; none for a conversation of another tenant (the join enforces it). */
  async messages(tenantId: string, conversationId: string): Promise<StoredMessage[]> {
    const rows: MessageEntity[] = await this.dataSource.query(
      `SELECT m.id, m.role, m.content, m.created_at FROM messages m
       JOIN conversations c ON c.id = m.conversation_id AND c.tenant_id = $2
       WHERE m.conversation_id = $1 ORDER BY m.seq`,
      [conversationId, tenantId],
    );
    return rows.map((r) => ({
      id: r.id,
      role: r.role,
      content: r.content,
      createdAt: new Date(r.created_at),
    }));
  }

  /** The history as the model takes it; empty for a conversation of another tenant. */
  /**
   * history() and, in the same statement, the running run that continues the conversation (its first execution;
   * the caller holds the conversation's lock with `fence`). `runInserted` is false when a run of the conversation
   * waits for a decision on its tool calls: the caller then refuses or queues the run as RunRepository.insert's
   * refusal says.
   */
  async historyWithRun(
    tenantId: string,
    conversationId: string,
    agentName: string,
    run: RunBirth,
    fence: number,
  ): Promise<{ history: ChatMessage[]; runInserted: boolean }> {
    const [row] = await HISTORY_WITH_RUN.run(this.dataSource, [
      conversationId,
      tenantId,
      fence,
      run.id,
      agentName,
      ...birthValues(run),
    ]);
    return { history: row.history, runInserted: row.run_inserted };
  }

  /** Removes a run historyWithRun inserted for a turn refused before it ran (its budget): nothing names it yet. */
  async removeRun(runId: string): Promise<void> {
    await REMOVE_RUN.run(this.dataSource, [runId]);
  }

  async history(tenantId: string, conversationId: string): Promise<ChatMessage[]> {
    const rows = await HISTORY.run(this.dataSource, [conversationId, tenantId]);
    return rows.map((r) => ({ role: r.role, content: r.content }));
  }

  async delete(tenantId: string, id: string): Promise<void> {
    const result: [unknown[], number] = await this.dataSource.query(
      `DELETE FROM conversations WHERE id = $1 AND tenant_id = $2`,
      [id, tenantId],
    );
    if (!result[1]) throw new NotFoundError(`Conversation ${id}`);
  }

  /**
   * Appends a turn's messages and model calls, and updates the conversation's totals, in one statement (so one
   * round trip and one implicit transaction): either the whole turn is stored or nothing is. The conversation
   * row is locked first, so the messages' sequence numbers continue from its current count. With `fence`, the
   * append is refused (ConversationTakenOverError) when a later lease has already appended.
   */
  async appendTurn(turn: TurnRecord): Promise<AppendedTurn> {
    const messageIds = turn.messages.map(() => this.ids.uuid());
    const params: unknown[] = [
      turn.conversationId,
      turn.tenantId,
      messageIds,
      turn.messages.map((m) => m.role),
      turn.messages.map((m) => JSON.stringify(m.content)),
      turn.agentName,
      callRows(turn.llmCalls, this.ids),
      turn.messages.length,
      titleFrom(turn.messages),
      turn.fence ?? null,
    ];
    const run = turn.run;
    if (run) {
      params.push(
        JSON.stringify(run.steps),
        run.id,
        run.status,
        run.stopReason,
        run.inputTokens,
        run.outputTokens,
        run.costUsd,
        run.lastSeq,
      );
    }
    const rows = run
      ? await APPEND_RUN_TURN.run(this.dataSource, params)
      : await APPEND_TURN.run(this.dataSource, params);
    if (!rows.length) throw await this.whyNotAppended(turn);
    const row = rows[0];
    return {
      messageIds,
      costUsd: Number(row.cost_usd),
      ...(run
        ? {
            run: {
              recorded: 'run_recorded' in row && row.run_recorded === true,
              queuedBehind: 'run_queued_behind' in row && row.run_queued_behind === true,
            },
          }
        : {}),
    };
  }

  /** Nothing was appended: the conversation is gone, or a newer lease has written to it (the fence). */
  private async whyNotAppended(turn: TurnRecord): Promise<Error> {
    const rows: Array<Pick<ConversationEntity, 'fence'>> = await this.dataSource.query(
      `SELECT fence FROM conversations WHERE id = $1 AND tenant_id = $2`,
      [turn.conversationId, turn.tenantId],
    );
    if (rows.length && turn.fence !== undefined && Number(rows[0].fence) > turn.fence) {
      return new ConversationTakenOverError(turn.conversationId);
    }
    return new NotFoundError(`Conversation ${turn.conversationId}`);
  }

  /**
   * Records model calls of a turn that failed before it could be stored: they were made and
   * billed, so usage must still count them, while the history stays as it was.
   */
  async recordOrphanCalls(
    tenantId: string,
    conversationId: string | null,
    agentName: string,
    calls: LlmCallRecord[],
  ): Promise<void> {
    if (!calls.length) return;
    await this.dataSource.query(RECORD_ORPHAN_CALLS, [
      conversationId,
      tenantId,
      agentName,
      callRows(calls, this.ids),
    ]);
  }
}
