// The `runs` table: one row per run, from queued or started to its end. Tenant-scoped reads.
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PreparedStatement } from '@lib/core';
import type { ErrorPayload, RunSource, RunState, StopReason } from '@lib/core';
import { messageText, UserContentBlock, UserMessage } from '@lib/llm';
import type { RunBirth } from '@lib/conversations';
import type { FinishedRun, Run, RunTotals } from './run-records';

interface RunRow {
  id: string;
  tenant_id: string;
  conversation_id: string;
  agent_name: string;
  source: RunSource;
  status: RunState;
  stop_reason: StopReason | null;
  error: ErrorPayload | null;
  message: string;
  message_content: UserContentBlock[] | null;
  api_key_id: string | null;
  task_id: string | null;
  input_tokens: string;
  output_tokens: string;
  cost_usd: string;
  last_seq: string;
  resumes?: number;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

function toRun(row: RunRow): Run {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    conversationId: row.conversation_id,
    agentName: row.agent_name,
    source: row.source,
    status: row.status,
    stopReason: row.stop_reason,
    error: row.error,
    message: row.message_content ?? row.message,
    apiKeyId: row.api_key_id,
    taskId: row.task_id,
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    costUsd: Number(row.cost_usd),
    lastSeq: Number(row.last_seq),
    resumes: Number(row.resumes ?? 0),
    createdAt: new Date(row.created_at),
    startedAt: row.started_at ? new Date(row.started_at) : null,
    finishedAt: row.finished_at ? new Date(row.finished_at) : null,
  };
}

export interface NewRun {
  id: string;
  tenantId: string;
  conversationId: string;
  agentName: string;
  source: RunSource;
  message: UserMessage;
  apiKeyId: string | null;
  taskId: string | null;
  status: 'queued' | 'running';
  priority?: number;
  /** The fencing token of the lease a running run holds. */
  fence?: number;
}

/**
 * A run's row as ConversationStore.ensureWithRun writes it with a new conversation (the run's first statement):
 * the same values insert() writes.
 */
export function runBirth(
  run: Pick<NewRun, 'id' | 'source' | 'message' | 'apiKeyId' | 'taskId' | 'priority'>,
): RunBirth {
  return {
    id: run.id,
    source: run.source,
    message: messageText(run.message),
    messageContent: typeof run.message === 'string' ? null : JSON.stringify(run.message),
    apiKeyId: run.apiKeyId,
    taskId: run.taskId,
    priority: run.priority ?? 0,
  };
}

/**
 * TypeORM answers an UPDATE … RETURNING with `[rows, affected]` (a SELECT or INSERT with the rows alone): read as
 * rows, the first "row" would be that array, truthy even when nothing was updated.
 */
function returned<T>(result: unknown): T[] {
  return (result as [T[], number])[0];
}

const COLUMNS = `id, tenant_id, conversation_id, agent_name, source, status, stop_reason, error, message, message_content,
  api_key_id, task_id, input_tokens, output_tokens, cost_usd, last_seq, created_at, started_at, finished_at`;

/** See insert(). */
const INSERT = new PreparedStatement(
  'runs_insert',
  `WITH fenced AS (
         UPDATE conversations SET fence = GREATEST(fence, $11::bigint) WHERE id = $3 AND $11::bigint IS NOT NULL
       )
       INSERT INTO runs (id, tenant_id, conversation_id, agent_name, source, status, message, api_key_id, task_id,
         priority, started_at, message_content, fence)
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $6 = 'running' THEN now() END, $12::jsonb,
         $11::bigint
        WHERE $6 = 'queued'
           OR NOT EXISTS (SELECT 1 FROM runs w WHERE w.conversation_id = $3 AND w.status = 'requires_action')
       RETURNING id`,
);

/** See finish(). */
const FINISH = new PreparedStatement<{ queued_behind: boolean }>(
  'runs_finish',
  `UPDATE runs r SET status = $2, stop_reason = $3, error = $4, input_tokens = $5, output_tokens = $6,
         cost_usd = $7, last_seq = GREATEST(last_seq, $8), finished_at = now(), started_at = COALESCE(started_at, now())
       WHERE id = $1 AND status IN ('queued', 'running', 'requires_action')
         AND ($9::bigint IS NULL OR r.fence IS NULL OR r.fence <= $9::bigint)
       RETURNING EXISTS (SELECT 1 FROM runs q WHERE q.conversation_id = r.conversation_id AND q.status = 'queued')
         AS queued_behind`,
);

@Injectable()
export class RunRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Inserts the run; a running one is started now — unless a run of the conversation waits for a decision on its
   * tool calls (the conversation is its until it ends): then nothing is inserted and the answer is false. With `fence` (the run's lease's fencing token), the conversation
   * records it in the same statement: from then on a run whose lease expired before this one took the
   * conversation can no longer write to it (ConversationStore.appendTurn checks the fence).
   */
  async insert(run: NewRun): Promise<boolean> {
    const birth = runBirth(run);
    const rows = await INSERT.run(this.db, [
      run.id,
      run.tenantId,
      run.conversationId,
      run.agentName,
      run.source,
      run.status,
      birth.message,
      birth.apiKeyId,
      birth.taskId,
      birth.priority,
      run.fence ?? null,
      birth.messageContent,
    ]);
    return rows.length > 0;
  }

  /** A run by its id alone (an execution of it anywhere: the caller is the system, not a tenant). */
  async byId(id: string): Promise<Run | null> {
    const rows: RunRow[] = await this.db.query(`SELECT ${COLUMNS} FROM runs WHERE id = $1`, [id]);
    return rows[0] ? toRun(rows[0]) : null;
  }

  /**
   * Marks a run running again for a new execution holding the conversation's lease `fence`: a run still marked
   * running (its execution is gone) or waiting for a decision, and with `reopenFailed` one that failed (a retried
   * task). The run and its conversation record the fence, so the earlier execution can write to neither. Null when
   * the run is in none of those states (it ended meanwhile). `byReconciler` counts the resume (Run.resumes).
   */
  async claimForExecution(
    id: string,
    fence: number,
    reopenFailed: boolean,
    byReconciler = false,
  ): Promise<Run | null> {
    const rows: RunRow[] = await this.db.query(
      `WITH claimed AS (
         UPDATE runs SET status = 'running', stop_reason = NULL, error = NULL, finished_at = NULL,
                started_at = COALESCE(started_at, now()), fence = $2::bigint,
                resumes = resumes + CASE WHEN $4 THEN 1 ELSE 0 END
          WHERE id = $1 AND (status = 'running' OR ($3 AND status = 'failed')
                 -- A run waiting for decisions goes on only once none is pending.
                 OR (status = 'requires_action'
                     AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.run_id = $1 AND a.status = 'pending')))
          RETURNING ${COLUMNS}, resumes
       ), fenced AS (
         UPDATE conversations SET fence = GREATEST(fence, $2::bigint) WHERE id = (SELECT conversation_id FROM claimed)
       )
       SELECT * FROM claimed`,
      [id, fence, reopenFailed, byReconciler],
    );
    return rows[0] ? toRun(rows[0]) : null;
  }

  async get(tenantId: string, id: string): Promise<Run | null> {
    const rows: RunRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM runs WHERE id = $1 AND tenant_id = $2`,
      [id, tenantId],
    );
    return rows[0] ? toRun(rows[0]) : null;
  }

  /** The conversation's run that waits for a decision on its tool calls, if any. */
  async waiting(conversationId: string): Promise<Run | null> {
    const rows: RunRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM runs WHERE conversation_id = $1 AND status = 'requires_action' LIMIT 1`,
      [conversationId],
    );
    return rows[0] ? toRun(rows[0]) : null;
  }

  /**
   * A running run stops to wait for decisions (`requires_action`, stop reason `requires_approval`) with what it
   * has used so far; false when it was not running (any more), or a newer execution (a higher `fence`) owns it.
   */
  async pause(id: string, totals: RunTotals & { lastSeq: number }, fence: number): Promise<boolean> {
    const rows = returned<{ id: string }>(
      await this.db.query(
        `UPDATE runs SET status = 'requires_action', stop_reason = 'requires_approval', input_tokens = $2,
           output_tokens = $3, cost_usd = $4, last_seq = GREATEST(last_seq, $5)
         WHERE id = $1 AND status = 'running' AND (fence IS NULL OR fence <= $6::bigint) RETURNING id`,
        [id, totals.inputTokens, totals.outputTokens, totals.costUsd, totals.lastSeq, fence],
      ),
    );
    return rows.length > 0;
  }

  /**
   * Takes a waiting run whose calls have all been decided to execute it again (`running`); null when it does not
   * wait, still waits for a decision, or another execution took it first.
   */
  async claimWaiting(id: string): Promise<Run | null> {
    const rows = returned<RunRow>(
      await this.db.query(
        `UPDATE runs r SET status = 'running', stop_reason = NULL
          WHERE r.id = $1 AND r.status = 'requires_action'
            AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.run_id = r.id AND a.status = 'pending')
          RETURNING ${COLUMNS}`,
        [id],
      ),
    );
    return rows[0] ? toRun(rows[0]) : null;
  }

  /** A conversation's runs, newest first. */
  async page(
    tenantId: string,
    conversationId: string,
    page: number,
    pageSize: number,
  ): Promise<{ runs: Run[]; total: number }> {
    const rows: (RunRow & { total: string })[] = await this.db.query(
      `SELECT ${COLUMNS}, count(*) OVER () AS total FROM runs
        WHERE conversation_id = $1 AND tenant_id = $2
        ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4`,
      [conversationId, tenantId, pageSize, (page - 1) * pageSize],
    );
    if (rows.length || page === 1) return { runs: rows.map(toRun), total: Number(rows[0]?.total ?? 0) };
    const [{ total }] = await this.db.query(
      `SELECT count(*) AS total FROM runs WHERE conversation_id = $1 AND tenant_id = $2`,
      [conversationId, tenantId],
    );
    return { runs: [], total: Number(total) };
  }

  /** The run going on the conversation now (running or waiting for a decision), if any. */
  async active(conversationId: string): Promise<Run | null> {
    const rows: RunRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM runs WHERE conversation_id = $1 AND status IN ('running', 'requires_action')
        ORDER BY started_at DESC LIMIT 1`,
      [conversationId],
    );
    return rows[0] ? toRun(rows[0]) : null;
  }

  /**
   * Records how a run ended (only a run that had not ended yet changes), and answers whether its conversation has
   * queued runs waiting. With `fence` (the lease of the execution that ends it), an execution that a newer one has
   * taken the run from (a higher fence) changes nothing: `recorded` is false.
   */
  async finish(
    id: string,
    outcome: FinishedRun,
    fence?: number,
  ): Promise<{ queuedBehind: boolean; recorded: boolean }> {
    const rows = await FINISH.run(this.db, [
      id,
      outcome.status,
      outcome.stopReason,
      outcome.error ? JSON.stringify(outcome.error) : null,
      outcome.inputTokens,
      outcome.outputTokens,
      outcome.costUsd,
      outcome.lastSeq,
      fence ?? null,
    ]);
    return { queuedBehind: rows[0]?.queued_behind ?? false, recorded: rows.length > 0 };
  }

  /**
   * Takes the conversation's next queued run (interrupting runs first, then in arrival order) and marks it
   * running; the conversation records the caller's fencing token (see insert). The caller holds the lock.
   */
  async claimNextQueued(conversationId: string, fence: number): Promise<Run | null> {
    const rows: RunRow[] = await this.db.query(
      `WITH claimed AS (
         UPDATE runs SET status = 'running', started_at = now(), fence = $2::bigint
          WHERE id = (SELECT id FROM runs WHERE conversation_id = $1 AND status = 'queued'
                       -- A run waiting for a decision keeps the conversation: queued runs start after it ends.
                         AND NOT EXISTS (SELECT 1 FROM runs w WHERE w.conversation_id = $1
                                          AND w.status = 'requires_action')
                       ORDER BY priority DESC, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING ${COLUMNS}
       ), fenced AS (
         UPDATE conversations SET fence = GREATEST(fence, $2::bigint) WHERE id = (SELECT conversation_id FROM claimed)
       )
       SELECT * FROM claimed`,
      [conversationId, fence],
    ); // A statement ending in SELECT: TypeORM answers with the rows alone.
    return rows[0] ? toRun(rows[0]) : null;
  }

  /**
   * Cancels a run that waits for decisions: it ends `cancelled` (its turn is not stored) and its pending approvals
   * are denied with `reason`. Null when it does not wait (any more).
   */
  async cancelWaiting(id: string, reason: string): Promise<Run | null> {
    // A statement ending in SELECT: TypeORM answers with the rows alone.
    const rows: RunRow[] = await this.db.query(
      `WITH cancelled AS (
           UPDATE runs SET status = 'cancelled', stop_reason = 'cancelled', finished_at = now()
            WHERE id = $1 AND status = 'requires_action' RETURNING ${COLUMNS}
         ), denied AS (
           UPDATE approvals SET status = 'denied', decided_at = now(), reason = $2
            WHERE run_id = (SELECT id FROM cancelled) AND status = 'pending'
         )
         SELECT * FROM cancelled`,
      [id, reason],
    );
    return rows[0] ? toRun(rows[0]) : null;
  }

  /** Cancels a run that is still queued; false when it is not (any more). */
  async cancelQueued(id: string): Promise<Run | null> {
    const rows = returned<RunRow>(
      await this.db.query(
        `UPDATE runs SET status = 'cancelled', stop_reason = 'cancelled', finished_at = now()
          WHERE id = $1 AND status = 'queued' RETURNING ${COLUMNS}`,
        [id],
      ),
    );
    return rows[0] ? toRun(rows[0]) : null;
  }

  /** Conversations with queued runs, oldest first (the reconciler starts them when their conversation is free). */
  async conversationsWithQueuedRuns(limit = 100): Promise<string[]> {
    const rows: { conversation_id: string }[] = await this.db.query(
      `SELECT conversation_id FROM runs WHERE status = 'queued'
        GROUP BY conversation_id ORDER BY min(created_at) LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.conversation_id);
  }

  /** Runs marked running, oldest first (the reconciler checks whether the execution owning each is alive). */
  async running(limit = 500): Promise<Run[]> {
    const rows: RunRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM runs WHERE status = 'running' ORDER BY started_at LIMIT $1`,
      [limit],
    );
    return rows.map(toRun);
  }

  /** The highest sequence number any run of the conversation reached (the floor when Redis lost the counter). */
  async lastSeq(conversationId: string): Promise<number> {
    const [row] = await this.db.query(
      `SELECT COALESCE(max(last_seq), 0) AS last_seq FROM runs WHERE conversation_id = $1`,
      [conversationId],
    );
    return Number(row?.last_seq ?? 0);
  }
}
