// Carries out a run whose turn has started: numbers its events, hands them to its followers and the event log,
// records how it ended, and only then lets the conversation go.
import { Injectable, Logger } from '@nestjs/common';
import type { DonePayload, RunEvent, RunEventBase, RunEventMap, RunEventName, RunSource } from '@lib/core';
import { RunHandedBackError, Turn } from '@lib/chat';
import { ApprovalRepository } from './approval-repository';
import { AsyncQueue } from './async-queue';
import { EventLog } from './event-log';
import { RunCancellations } from './run-cancellations';
import { failureBody } from './run-failures';
import { RunFeed, RunFollower } from './run-feed';
import type { FinishedRun } from './run-records';
import { RunRepository } from './run-repository';

export interface RunIdentity {
  id: string;
  conversationId: string;
  agentName: string;
  source: RunSource;
}

export interface RunHandle {
  runId: string;
  conversationId: string;
  agentName: string;
  /** `queued`: it starts when the conversation's current run ends (on whichever instance). */
  status: 'running' | 'queued';
  /** The run's events, from `run_started` to its `done` or `error`. Consume them, or call `detach()`. */
  events: AsyncIterable<RunEvent>;
  /** The failure behind the run's `error` event, when the run ran in this process (with the provider's cause). */
  readonly failure: unknown;
  /**
   * The run's whole answer once it is done, when it ran in this process: the text of every model response of the
   * run, those replayed from its journal included (a resumed run's `text` events carry only what it produced).
   */
  readonly response: string | undefined;
  /** Stops the run; it still ends with `done` and `stop_reason: "cancelled"`. */
  cancel(): Promise<void>;
  /** The caller stops reading the events; the run goes on. */
  detach(): void;
}

/** A follower that queues one run's events for its caller and ends after the run's last event. */
export class RunEventQueue implements RunFollower {
  lastSeq = -1;
  /** The run's handle carries every event; each transport leaves out what its client did not ask for. */
  readonly thinking = true;
  readonly queue = new AsyncQueue<RunEvent>();
  onEnd: (() => void) | undefined;

  constructor(readonly runId: string) {}

  deliver(event: RunEvent): void {
    this.queue.push(event);
    if (event.name === 'done' || event.name === 'error') {
      this.queue.end();
      this.onEnd?.();
    }
  }
}

type Fields<Name extends RunEventName> = Omit<RunEventMap[Name], 'conversation_id' | 'run_id' | 'seq'>;

@Injectable()
export class RunExecutor {
  private readonly logger = new Logger('Runs');

  constructor(
    private readonly runs: RunRepository,
    private readonly feed: RunFeed,
    private readonly log: EventLog,
    private readonly cancellations: RunCancellations,
    private readonly approvals: ApprovalRepository,
  ) {}

  /**
   * Starts publishing the run (its `run_started` first) and drives its turn in the background, whoever follows it.
   * `onEnded` runs once the conversation is free again.
   */
  async begin(
    run: RunIdentity,
    turn: Turn,
    controller: AbortController,
    onEnded: (queuedBehind: boolean) => void,
    { resumed = false }: { resumed?: boolean } = {},
  ): Promise<RunHandle> {
    let firstSeq: number;
    try {
      // A conversation this run created has no earlier number anywhere: its first is known without a round trip.
      firstSeq = turn.isNewConversation
        ? this.log.openNew(run.conversationId)
        : await this.log.open(run.conversationId, () => this.runs.lastSeq(run.conversationId));
    } catch (error) {
      await turn.events.return(undefined);
      await turn.lease.release();
      await this.runs
        .finish(
          run.id,
          { ...NOTHING, status: 'failed', error: failureBody(error, run.conversationId) },
          turn.lease.fence,
        )
        .catch(() => undefined);
      throw error;
    }
    const follower = new RunEventQueue(run.id);
    this.feed.attach(run.conversationId, follower);
    follower.onEnd = () => this.feed.unfollow(run.conversationId, follower);
    const unregister = this.cancellations.register(run.id, run.conversationId, controller);
    const state: DriveState = {};
    void this.drive(run, turn, firstSeq, controller, state, resumed).finally(() => {
      unregister();
      onEnded(state.queuedBehind ?? true);
    });
    return {
      runId: run.id,
      conversationId: run.conversationId,
      agentName: run.agentName,
      status: 'running',
      events: follower.queue,
      get failure() {
        return state.failure;
      },
      get response() {
        return state.response;
      },
      cancel: async () => controller.abort(),
      detach: () => {
        follower.queue.discard();
        this.feed.unfollow(run.conversationId, follower);
      },
    };
  }

  /**
   * Ends a run that is not running here: one that never ran (cancelled while queued, refused when it was to start)
   * gets its `run_started` and its end; one that `started` elsewhere (its instance is gone) gets its end.
   */
  async close(
    run: RunIdentity,
    outcome: Pick<FinishedRun, 'status' | 'stopReason' | 'error'> & { started?: boolean },
  ): Promise<void> {
    const { started = false, ...ending } = outcome;
    let seq = await this.log.open(run.conversationId, () => this.runs.lastSeq(run.conversationId));
    const base = { conversation_id: run.conversationId, run_id: run.id };
    await this.runs.finish(run.id, { ...NOTHING, ...ending, lastSeq: started ? seq : seq + 1 });
    if (!started) {
      this.feed.publish(run.conversationId, {
        name: 'run_started',
        payload: { ...base, seq, source: run.source },
      });
      seq += 1;
    }
    const last: RunEvent = outcome.error
      ? { name: 'error', payload: { ...base, seq, ...outcome.error } }
      : {
          name: 'done',
          payload: {
            ...base,
            seq,
            message_id: null,
            stop_reason: outcome.stopReason ?? 'cancelled',
            input_tokens: 0,
            output_tokens: 0,
            tokens_used: 0,
            cache_read_input_tokens: 0,
            cache_creation_input_tokens: 0,
            cost_usd: 0,
            latency_ms: 0,
            context_tokens: 0,
            compacted: false,
          },
        };
    this.feed.publish(run.conversationId, last, true);
  }

  /**
   * The end of an execution whose tool calls wait for decisions: the run is `requires_action` (recorded first, so a
   * decider who hears of a call finds the run waiting), each waiting call is announced (`approval_required`), and
   * `done` with `stop_reason: "requires_approval"` ends this execution's events. The conversation's lock goes with
   * `done`: a waiting run keeps its conversation through its row, not a lock (see RunRepository.insert).
   */
  private async pause(
    run: RunIdentity,
    turn: Turn,
    usage: PausedUsage,
    event: NextEvent,
    state: { queuedBehind?: boolean },
  ): Promise<void> {
    const pending = await this.approvals.pendingOf([run.id]).then((found) => found.get(run.id) ?? []);
    const announced = pending.map((approval) =>
      event('approval_required', {
        tool_use_id: approval.toolUseId,
        tool_name: approval.toolName,
        arguments: approval.arguments,
        arguments_sha256: approval.argumentsSha256,
        expires_at: approval.expiresAt.toISOString(),
      }),
    );
    const done = event('done', { message_id: null, stop_reason: 'requires_approval', ...usage });
    const paused = await this.runs.pause(
      run.id,
      {
        inputTokens: usage.input_tokens,
        outputTokens: usage.output_tokens,
        costUsd: usage.cost_usd,
        lastSeq: done.payload.seq,
      },
      turn.lease.fence,
    );
    if (!paused) throw new Error(`Run ${run.id} was no longer running when its tool calls paused.`);
    // Nothing is queued behind a waiting run: it keeps the conversation until it ends.
    state.queuedBehind = false;
    for (const required of announced) this.feed.publish(run.conversationId, required);
    await this.feed.publishLast(run.conversationId, done, () => turn.lease.release());
  }

  private async drive(
    run: RunIdentity,
    turn: Turn,
    firstSeq: number,
    controller: AbortController,
    state: DriveState,
    resumed: boolean,
  ): Promise<void> {
    const conversationId = run.conversationId;
    const fence = turn.lease.fence;
    // Shared with the turn (TurnRun): the statement that stores it records the `seq` its `done` gets.
    const numbering = turn.run ?? { nextSeq: 0 };
    numbering.nextSeq = firstSeq;
    const event = <Name extends RunEventName>(name: Name, fields: Fields<Name>): RunEvent =>
      ({
        name,
        payload: { conversation_id: conversationId, run_id: run.id, seq: numbering.nextSeq++, ...fields },
      }) as unknown as RunEvent;
    // A run executed again continues its numbering after what the log has: its `run_started` and the events of
    // the steps it replays were published by its earlier execution.
    if (!resumed) this.feed.publish(conversationId, event('run_started', { source: run.source }));
    let ended = false;
    try {
      for await (const turnEvent of turn.events) {
        switch (turnEvent.type) {
          case 'text':
            this.feed.publish(conversationId, event('text', { content: turnEvent.content }));
            break;
          case 'thinking':
            this.feed.publish(conversationId, event('thinking', { content: turnEvent.content }));
            break;
          case 'tool_start': {
            const { type: _type, ...fields } = turnEvent;
            this.feed.publish(conversationId, event('tool_start', fields));
            break;
          }
          case 'tool_end': {
            const { type: _type, ...fields } = turnEvent;
            this.feed.publish(conversationId, event('tool_end', fields));
            break;
          }
          case 'paused': {
            const { type: _type, pending: _pending, ...usage } = turnEvent;
            await this.pause(run, turn, usage, event, state);
            ended = true;
            break;
          }
          case 'done': {
            state.response = turnEvent.response;
            const done = event('done', {
              message_id: turnEvent.message_id,
              stop_reason: turnEvent.stop_reason,
              input_tokens: turnEvent.input_tokens,
              output_tokens: turnEvent.output_tokens,
              tokens_used: turnEvent.tokens_used,
              cache_read_input_tokens: turnEvent.cache_read_input_tokens,
              cache_creation_input_tokens: turnEvent.cache_creation_input_tokens,
              cost_usd: turnEvent.cost_usd,
              latency_ms: turnEvent.latency_ms,
              context_tokens: turnEvent.context_tokens,
              compacted: turnEvent.compacted,
            });
            // Recorded before anyone hears of the end: a client that reads the run after `done` sees it ended
            // (with the stored turn, in the same statement, when the turn is the run's: TurnRun).
            const finished =
              turnEvent.run_ended ??
              (await this.runs
                .finish(
                  run.id,
                  {
                    status: turnEvent.stop_reason === 'cancelled' ? 'cancelled' : 'completed',
                    stopReason: turnEvent.stop_reason,
                    error: null,
                    inputTokens: turnEvent.input_tokens,
                    outputTokens: turnEvent.output_tokens,
                    costUsd: turnEvent.cost_usd,
                    lastSeq: done.payload.seq,
                  },
                  fence,
                )
                .catch((error: Error) => {
                  this.logger.error(`Could not record the end of run ${run.id}: ${error.message}`);
                  return { queuedBehind: true, recorded: true };
                }));
            state.queuedBehind = finished.queuedBehind;
            ended = true;
            await this.publishEnd(run, finished.recorded, done, turn);
            break;
          }
        }
      }
      if (!ended) throw new Error('The turn ended without a done event.');
    } catch (error) {
      state.failure = error;
      const body = failureBody(error, conversationId);
      const failed = event('error', body);
      if (error instanceof RunHandedBackError) {
        // The run does not end: what it published stays in the log, its lock goes, and the reconciler of another
        // instance resumes it from its journal. Only its caller here hears of it (503).
        this.log.flushPending(conversationId);
        await turn.lease.release();
        this.feed.deliverHere(conversationId, run.id, failed);
        return;
      }
      const finished = await this.runs
        .finish(
          run.id,
          {
            ...NOTHING,
            status: controller.signal.aborted ? 'cancelled' : 'failed',
            stopReason: controller.signal.aborted ? 'cancelled' : null,
            error: body,
            lastSeq: failed.payload.seq,
          },
          fence,
        )
        .catch((e: Error) => {
          this.logger.error(`Could not record the failure of run ${run.id}: ${e.message}`);
          return { queuedBehind: true, recorded: true };
        });
      state.queuedBehind = finished.queuedBehind;
      await this.publishEnd(run, finished.recorded, failed, turn);
    } finally {
      await turn.lease.release();
    }
  }

  /**
   * Publishes the run's last event, unless a newer execution of the run has taken it over (its end was not
   * recorded): that execution publishes the run's end, and this one only tells its own followers here.
   */
  private async publishEnd(run: RunIdentity, recorded: boolean, last: RunEvent, turn: Turn): Promise<void> {
    if (recorded) return this.feed.publishLast(run.conversationId, last, () => turn.lease.release());
    this.logger.warn(
      `Run ${run.id} was taken over by a newer execution; this one stops without publishing its end.`,
    );
    await turn.lease.release();
    this.feed.deliverHere(run.conversationId, run.id, last);
  }
}

interface DriveState {
  failure?: unknown;
  queuedBehind?: boolean;
  response?: string;
}

/** Builds the next numbered event of a run (see drive()). */
type NextEvent = <Name extends RunEventName>(name: Name, fields: Fields<Name>) => RunEvent;

/** What a paused execution has used, for the run's row and its `done`: the usage fields of `done`. */
export type PausedUsage = Omit<DonePayload, keyof RunEventBase | 'message_id' | 'stop_reason'>;

const NOTHING: FinishedRun = {
  status: 'failed',
  stopReason: null,
  error: null,
  inputTokens: 0,
  outputTokens: 0,
  costUsd: 0,
  lastSeq: 0,
};
