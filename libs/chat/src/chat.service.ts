// A chat turn around the agent loop: resolve the conversation, hold its lock, run, store the turn in one go.
import { Injectable, Logger } from '@nestjs/common';
import {
  DomainError,
  IdGenerator,
  LogContext,
  RateLimitedError,
  ServiceUnavailableError,
  UpstreamError,
} from '@lib/core';
import { AgentDefinition, AgentPin, AgentRegistry, DEFAULT_AGENT } from '@lib/agents';
import { ConversationLease, ConversationLock, ConversationStore, RunBirth } from '@lib/conversations';
import { ChatMessage, LlmError, UserMessage } from '@lib/llm';
import { CostAnomalies, SpendGuard } from '@lib/usage';
import type { TurnEvent } from './agent-events';
import { AgentRunner, AgentTurnError, IterationHook } from './agent-runner';
import type { StepJournal, ToolGate } from './step-journal';

export interface TurnRequest {
  tenantId: string;
  /** A string or content blocks, already checked (RunSupervisor, TaskService). */
  message: UserMessage;
  conversationId?: string;
  agentName?: string;
  /**
   * The agent version a new conversation starts with (a task pins the version current when it was created);
   * omitted: the agent's current version. A conversation that exists keeps the version it started with.
   */
  agentPin?: AgentPin;
  /** Aborting it cancels the turn: the turn still ends with `done` and `stop_reason: "cancelled"`. */
  signal?: AbortSignal;
  /** The background task running this turn: tools get it in their context (idempotent side effects). */
  taskId?: string;
  /** The id of the conversation to start when `conversationId` is omitted (a task's re-run reuses its id). */
  newConversationId?: string;
  /** Called when an iteration (a model call and its tools) has finished and the loop goes on. */
  onIteration?: IterationHook;
  /** The caller's API key (REST, SSE, socket; a task: the key that created it), recorded on each model call. */
  apiKeyId?: string | null;
  /** The conversation's lock, when the caller already holds it (a queued run started by the supervisor). */
  lease?: ConversationLease;
  /**
   * The caller releases the turn's lock (`Turn.lease`) once it has dealt with the turn's end, instead of the turn
   * when its events end: the run supervisor publishes a run's last event while it still holds the conversation.
   */
  holdLease?: boolean;
  /**
   * Keep a new conversation whose first turn fails (by default it goes away with the turn): a run's row and its
   * events name the conversation, and the failed run must stay readable (GET /v1/runs/{id}).
   */
  keepConversation?: boolean;
  /** The run this turn carries out: the conversation's lock names it (see ConversationLock.acquire). */
  runId?: string;
  /** The run is executed again: it takes over its own lock at once, even if an earlier execution still holds it. */
  takeover?: boolean;
  /** The run's journal (see RunRequest.journal in the agent runner). */
  journal?: StepJournal;
  /** Decides whether each tool call runs (see ToolGate). */
  gate?: ToolGate;
  /**
   * The run this turn carries out (`runId`), when the run's row is written by the turn's own statements: its
   * insert with the conversation the turn creates (TurnRun.birth) and its end with the stored turn.
   */
  run?: TurnRun;
}

/**
 * What the statements of a run's turn write about the run (RunSupervisor creates it, RunExecutor numbers the run's
 * events with it). A new conversation and the run's row are one INSERT (ConversationStore.ensureWithRun), the
 * history of an existing one and the run's row one statement (historyWithRun); the stored turn, the run's last
 * journal step and the run's end are one statement (ConversationStore.appendTurn).
 */
export class TurnRun {
  /** The `seq` of the run's next event: when the turn is stored, the `seq` its `done` will carry. */
  nextSeq = 0;

  constructor(
    /** The run's row, inserted with the conversation the turn creates or with the history it reads (its first execution only). */
    readonly birth?: RunBirth,
  ) {}
}

/**
 * The reason a run's signal carries when its process hands it back (a graceful shutdown past its grace period):
 * the turn stops storing nothing, its run stays `running` with its journal, and another instance resumes it. Its
 * caller (a REST client) is answered 503 and can follow the run through the conversation's events.
 */
export class RunHandedBackError extends ServiceUnavailableError {
  constructor(readonly conversationId: string) {
    super(
      `This instance is shutting down; the run goes on on another instance: follow it with GET /v1/conversations/${conversationId}/events.`,
      1,
    );
    this.name = 'RunHandedBackError';
  }
}

/** A turn that has its conversation and its lock; `events` must be consumed to run (and release) it. */
export interface Turn {
  conversationId: string;
  lease: ConversationLease;
  agentName: string;
  isNewConversation: boolean;
  /**
   * The run's row (TurnRun.birth) was inserted by the turn's first statement, with the new conversation or with the
   * history read: the caller must not insert it again.
   */
  runInserted: boolean;
  /** TurnRequest.run, when given. */
  run?: TurnRun;
  events: AsyncGenerator<TurnEvent>;
}

@Injectable()
export class ChatService {
  private readonly logger = new Logger(ChatService.name);

  constructor(
    private readonly agents: AgentRegistry,
    private readonly store: ConversationStore,
    private readonly lock: ConversationLock,
    private readonly runner: AgentRunner,
    private readonly ids: IdGenerator,
    private readonly spend: SpendGuard,
    private readonly anomalies: CostAnomalies,
  ) {}

  /**
   * Resolves the conversation, checks the budgets and takes its lock, so that 404, 400, 402 and 409 are
   * raised before any event is produced; the returned turn runs as its events are consumed.
   */
  async start(request: TurnRequest): Promise<Turn> {
    if (request.conversationId) {
      let conversation;
      try {
        conversation = await this.store.get(request.tenantId, request.conversationId);
      } catch (error) {
        await request.lease?.release();
        throw error;
      }
      LogContext.assign({ conversation_id: conversation.id });
      let agent: AgentDefinition;
      try {
        // The version the conversation started with: an agent edited since does not change it.
        agent = await this.agents.pinned(request.tenantId, conversation.agentPin, conversation.agentName);
      } catch (error) {
        await request.lease?.release();
        throw error;
      }
      const lease =
        request.lease ??
        (await this.lock.acquire(conversation.id, { runId: request.runId, takeover: request.takeover }));
      let history: ChatMessage[];
      const birth = request.run?.birth;
      let runInserted = false;
      try {
        // Under the lock, so the history is the one the turn continues; the first call includes all of it. A run's
        // first execution inserts its row in the same statement.
        if (birth) {
          ({ history, runInserted } = await this.store.historyWithRun(
            request.tenantId,
            conversation.id,
            agent.name,
            birth,
            lease.fence,
          ));
        } else {
          history = await this.store.history(request.tenantId, conversation.id);
        }
        await this.spend.assertCanStart(
          {
            tenantId: request.tenantId,
            conversationId: conversation.id,
            conversationLimitUsd: conversation.costLimitUsd,
            conversationSpentUsd: conversation.costUsd,
          },
          this.runner.firstCall(agent, request.message, history, conversation.maxContextTokens),
        );
      } catch (error) {
        // Refused before it ran: its run leaves no row, as if it had never been inserted.
        if (runInserted) {
          await this.store
            .removeRun(birth!.id)
            .catch((e: Error) => this.logger.error(`Could not remove a refused run: ${e.message}`));
        }
        await lease.release();
        throw error;
      }
      return {
        conversationId: conversation.id,
        lease,
        agentName: agent.name,
        isNewConversation: false,
        runInserted,
        run: request.run,
        events: this.run(request, agent, conversation.id, lease, false, {
          temperature: conversation.temperature,
          maxIterations: conversation.maxIterations,
          costLimitUsd: conversation.costLimitUsd,
          spentUsd: conversation.costUsd,
          maxContextTokens: conversation.maxContextTokens,
          requireApproval: conversation.requireApproval,
          history,
        }),
      };
    }
    const agentName = request.agentName ?? DEFAULT_AGENT;
    const agent = request.agentPin
      ? await this.agents.pinned(request.tenantId, request.agentPin, agentName)
      : await this.agents.resolve(request.tenantId, agentName);
    await this.assertWithinBudget({ tenantId: request.tenantId, agent, message: request.message });
    const conversationId = request.newConversationId ?? this.ids.uuid();
    LogContext.assign({ conversation_id: conversationId });
    // The conversation exists while its first turn runs, so clients can join, cancel or find it busy;
    // a first turn that fails removes it again (see run()).
    // Locked before it exists: a conversation this call creates has no history, since nobody else can have
    // started a turn in it (a task's re-run finds its conversation and reads what is there).
    const lease = await this.lock.acquire(conversationId, { runId: request.runId });
    let created: boolean;
    const birth = request.run?.birth;
    try {
      const conversation = {
        id: conversationId,
        agentName: agent.name,
        agentPin: { agentId: agent.id, version: agent.version },
      };
      created = birth
        ? await this.store.ensureWithRun(request.tenantId, conversation, birth, lease.fence)
        : await this.store.ensure(request.tenantId, conversation);
    } catch (error) {
      await lease.release();
      throw error;
    }
    return {
      conversationId,
      lease,
      agentName: agent.name,
      isNewConversation: created,
      runInserted: created && birth !== undefined,
      run: request.run,
      events: this.run(request, agent, conversationId, lease, created, created ? { history: [] } : {}),
    };
  }

  /**
   * 402 budget_exceeded when the tenant's daily budget has no room left for the first call of a turn of this
   * agent with this message (for a task before it is queued; its run checks again).
   */
  async assertWithinBudget(turn: {
    tenantId: string;
    agent: AgentDefinition;
    message: UserMessage;
  }): Promise<void> {
    await this.spend.assertCanStart(
      { tenantId: turn.tenantId },
      this.runner.firstCall(turn.agent, turn.message),
    );
  }

  private async *run(
    request: TurnRequest,
    agent: AgentDefinition,
    conversationId: string,
    lease: ConversationLease,
    isNew: boolean,
    overrides: {
      temperature?: number | null;
      maxIterations?: number | null;
      costLimitUsd?: number | null;
      spentUsd?: number;
      maxContextTokens?: number | null;
      requireApproval?: readonly string[];
      /** Loaded by start() for a conversation that has one. */
      history?: ChatMessage[];
    },
  ): AsyncGenerator<TurnEvent> {
    const startedAt = performance.now();
    try {
      const { history: loaded, ...settings } = overrides;
      const history = loaded ?? (await this.store.history(request.tenantId, conversationId));
      const events = this.runner.run({
        agent,
        history,
        userMessage: request.message,
        tenantId: request.tenantId,
        conversationId,
        // A lost lease stops the turn as a cancel does.
        signal: request.signal ? AbortSignal.any([request.signal, lease.lost]) : lease.lost,
        taskId: request.taskId,
        onIteration: request.onIteration,
        apiKeyId: request.apiKeyId,
        journal: request.journal,
        gate: request.gate,
        ...settings,
      });
      for await (const event of events) {
        if (event.type === 'runner_paused') {
          // Nothing is stored: the journal holds the run's steps until it is executed again and completes.
          yield {
            type: 'paused',
            pending: event.pending,
            ...event.usage,
            latency_ms: Math.round(performance.now() - startedAt),
            context_tokens: event.context_tokens,
            compacted: event.compacted,
          };
          continue;
        }
        if (event.type !== 'runner_done') {
          yield event;
          continue;
        }
        const journal = request.journal;
        const finalStep = event.final_step;
        // The last response goes into the journal now when the turn is not stored with its run below (or cannot
        // be): an execution that continues the run replays it instead of asking the model again.
        const journalFinalStep = async () => {
          if (finalStep && journal) await journal.record(finalStep);
        };
        // Handed back: nothing is stored; the journal keeps the completed steps for the execution that resumes it.
        if (handedBack(request.signal)) {
          await journalFinalStep().catch(() => undefined);
          throw new AgentTurnError(request.signal!.reason, event.llm_calls);
        }
        const run = request.run && request.runId && journal ? request.run : undefined;
        if (!run)
          await journalFinalStep().catch((e: unknown) =>
            Promise.reject(new AgentTurnError(e, event.llm_calls)),
          );
        const appended = await this.store
          .appendTurn({
            tenantId: request.tenantId,
            conversationId,
            fence: lease.fence,
            agentName: agent.name,
            messages: event.messages,
            llmCalls: event.llm_calls,
            ...(run
              ? {
                  run: {
                    id: request.runId!,
                    status: event.stop_reason === 'cancelled' ? 'cancelled' : 'completed',
                    stopReason: event.stop_reason,
                    inputTokens: event.usage.input_tokens,
                    outputTokens: event.usage.output_tokens,
                    costUsd: event.usage.cost_usd,
                    lastSeq: run.nextSeq,
                    steps: finalStep ? [journal!.row(finalStep)] : [],
                  },
                }
              : {}),
          })
          // The calls were made and billed whatever stops the final write: they are recorded below.
          .catch(async (error: unknown) => {
            if (run) await journalFinalStep().catch(() => undefined);
            return Promise.reject(new AgentTurnError(error, event.llm_calls));
          });
        // Off the turn's path: an alert must never delay or fail the answer.
        void this.anomalies
          .check({
            tenantId: request.tenantId,
            conversationId,
            agentName: agent.name,
            costUsd: appended.costUsd,
          })
          .catch((e: Error) => this.logger.error(`Could not check the conversation's cost: ${e.message}`));
        const answerIndex = event.messages.map((m) => m.role).lastIndexOf('assistant');
        yield {
          type: 'done',
          message_id: answerIndex >= 0 ? appended.messageIds[answerIndex] : null,
          stop_reason: event.stop_reason,
          response: event.response,
          ...event.usage,
          latency_ms: Math.round(performance.now() - startedAt),
          context_tokens: event.context_tokens,
          compacted: event.compacted,
          ...(appended.run ? { run_ended: appended.run } : {}),
        };
      }
    } catch (error) {
      if (error instanceof AgentTurnError) {
        await this.store
          .recordOrphanCalls(request.tenantId, conversationId, agent.name, error.llmCalls)
          .catch((e: Error) =>
            this.logger.error(`Could not record the model calls of a failed turn: ${e.message}`),
          );
      }
      // A conversation that only existed for this failed first turn goes away with it (unless a run names it, or
      // the run goes on elsewhere).
      if (isNew && !request.keepConversation && !handedBack(request.signal)) {
        await this.store
          .deleteIfEmpty(request.tenantId, conversationId)
          .catch((e: Error) => this.logger.error(`Could not remove an empty conversation: ${e.message}`));
      }
      throw error instanceof AgentTurnError ? toDomainError(error.cause) : error;
    } finally {
      if (!request.holdLease) await lease.release();
    }
  }
}

function handedBack(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && signal.reason instanceof RunHandedBackError;
}

/** What a provider failure means to the caller of a turn. */
export function toDomainError(error: unknown): DomainError | unknown {
  if (!(error instanceof LlmError)) return error;
  const mapped = describeLlmError(error);
  // Kept for the logs: the client sees the mapped sentence, operators the provider's own words.
  mapped.cause = error;
  return mapped;
}

function describeLlmError(error: LlmError): DomainError {
  switch (error.kind) {
    case 'rate_limited':
      return new RateLimitedError(
        'The model provider is rate limiting this deployment; retry later.',
        error.retryAfterSeconds ?? 5,
      );
    case 'overloaded':
      return new UpstreamError(
        'The model provider is overloaded; retry in a moment.',
        error.retryAfterSeconds,
      );
    case 'server_error':
    case 'connection':
      return new UpstreamError('The model provider failed to answer; retry in a moment.');
    case 'authentication':
      return new UpstreamError("The model provider refused this deployment's credentials.");
    case 'billing':
      return new UpstreamError('The model provider refused the request for billing reasons.');
    case 'invalid_request':
      return new UpstreamError('The model provider rejected the request.');
    case 'aborted':
      return new UpstreamError('The model call was aborted.');
  }
}
