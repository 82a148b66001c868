// Every run of every transport goes through here: start (or queue, or interrupt), follow, cancel, resume (execute
// an existing run again from its journal), and the reconciliation that starts queued runs and resumes runs whose
// owner is gone.
import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ConversationBusyError, NotFoundError, ServiceUnavailableError, ValidationError } from '@lib/core';
import { userMessageProblems } from '@lib/llm';
import { ChatService } from '@lib/chat';
import { RunCancellations } from './run-cancellations';
import { RunEventQueue, RunExecutor, RunHandle } from './run-executor';
import { RunFeed } from './run-feed';
import { failureBody } from './run-failures';
import { RunInfrastructure } from './run-infrastructure';
import { Resumed, ResumeOptions, RunRecovery } from './run-recovery';
import { isFinished, Run, RunRequest } from './run-records';
import { NewRun, RunRepository, runBirth } from './run-repository';
import { ConversationAwaitingApprovalError } from './run-errors';

/** How long `cancel` waits for a running run to stop before answering its current status. */
const CANCEL_WAIT_MS = 5_000;
/** How often the instance that queued a run tries to start it while it waits. */
const QUEUED_RETRY_MS = 250;

@Injectable()
export class RunSupervisor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Runs');
  private timer: NodeJS.Timeout | undefined;
  /** The retry timers of runs this instance queued and that have not started yet. */
  private readonly retries = new Set<NodeJS.Timeout>();

  constructor(
    private readonly chat: ChatService,
    private readonly runs: RunRepository,
    private readonly executor: RunExecutor,
    private readonly feed: RunFeed,
    private readonly cancellations: RunCancellations,
    private readonly infra: RunInfrastructure,
    private readonly recovery: RunRecovery,
  ) {}

  onApplicationBootstrap(): void {
    // Runs queued before a restart start again; one pass now, then periodically.
    this.timer = setInterval(() => void this.reconcile(), this.infra.config.runReconcileIntervalMs);
    this.timer.unref();
    setImmediate(() => void this.reconcile());
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    // A closed instance stops trying to start its queued runs (they stay rows: another instance starts them).
    for (const retry of this.retries) clearInterval(retry);
    this.retries.clear();
  }

  /**
   * Starts a run: 400, 402, 404 and 409 are thrown here, before any event. With `enqueue` or `interrupt`, a busy
   * conversation queues the run instead (`interrupt` also cancels the running one).
   */
  async start(request: RunRequest): Promise<RunHandle> {
    this.assertAcceptableMessage(request.message);
    if (this.infra.shutdown.draining) {
      // Refused before anything is taken: the client retries and the load balancer picks another instance.
      throw new ServiceUnavailableError(
        'This instance is shutting down and starts no new runs; retry, and another instance will run it.',
        1,
      );
    }
    const runId = request.runId ?? this.infra.ids.uuid();
    const controller = new AbortController();
    let turn;
    try {
      turn = await this.chat.start({
        tenantId: request.tenantId,
        message: request.message,
        conversationId: request.conversationId,
        agentName: request.agentName,
        agentPin: request.agentPin,
        apiKeyId: request.apiKeyId,
        taskId: request.taskId,
        newConversationId: request.newConversationId,
        onIteration: request.onIteration,
        // A run's first execution: nothing to read, each step recorded as it completes; its row goes in with the
        // turn's first statement and its end with the stored turn.
        ...this.infra.execution(runId, controller.signal, this.infra.journal.fresh(runId), {
          gate: request.gate,
          birth: runBirth({
            id: runId,
            source: request.source,
            message: request.message,
            apiKeyId: request.apiKeyId ?? null,
            taskId: request.taskId ?? null,
          }),
        }),
        // A failed first turn deletes its new conversation, and with it the run row. A REST caller never learns
        // either id (it gets the error envelope), so version 1's "no conversation is left" stays; every other
        // client has been told the run id (run_started, the socket ack, TaskStatus) and must be able to read it.
        keepConversation: request.source !== 'rest',
      });
    } catch (error) {
      const strategy = request.multitaskStrategy ?? 'reject';
      if (error instanceof ConversationBusyError && request.conversationId && strategy !== 'reject') {
        return this.enqueue(runId, request, strategy === 'interrupt');
      }
      throw error;
    }
    try {
      const inserted =
        turn.runInserted ||
        (await this.runs.insert({
          ...newRun(runId, request, turn.conversationId, turn.agentName),
          status: 'running',
          fence: turn.lease.fence,
        }));
      if (!inserted) {
        // The conversation's run waits for decisions: it keeps the conversation (its lock is free while it waits).
        const waiting = await this.runs.waiting(turn.conversationId);
        throw new ConversationAwaitingApprovalError(turn.conversationId, waiting?.id ?? 'unknown');
      }
    } catch (error) {
      await turn.events.return(undefined);
      await turn.lease.release();
      const strategy = request.multitaskStrategy ?? 'reject';
      if (error instanceof ConversationAwaitingApprovalError && strategy !== 'reject') {
        return this.enqueue(runId, request, strategy === 'interrupt');
      }
      throw error;
    }
    const run = {
      id: runId,
      conversationId: turn.conversationId,
      agentName: turn.agentName,
      source: request.source,
    };
    return this.executor.begin(run, turn, controller, (queued) => {
      if (queued) void this.dispatch(run.conversationId);
    });
  }

  /**
   * Executes an existing run again, from its journal, here — the seam for every re-execution: a task's next
   * attempt (`reopenFailed`: also a run whose last attempt failed), the reconciler for a run whose owner is gone,
   * and a run paused for an approval once it is decided. The run takes its conversation's lock (its own lock at
   * once: see ResumeOptions.takeover), replays its recorded steps without calling the model or the tools again,
   * continues from the first step not completed, and publishes after what its event log already has. Resolves
   * `finished` for a run that has ended (nothing runs), `missing` for an unknown id; throws ConversationBusyError
   * when another run holds the conversation.
   */
  resume(runId: string, options: ResumeOptions = {}): Promise<Resumed> {
    return this.recovery.resume(runId, {
      ...options,
      onEnded: (queued) => {
        options.onEnded?.(queued);
        if (queued) {
          void this.runs.byId(runId).then((run) => run && this.dispatch(run.conversationId));
        }
      },
    });
  }

  /** Ends a run whose execution will not go on (a task the queue gave up on), as failed with `message`. */
  async abandon(runId: string, message: string): Promise<void> {
    const run = await this.runs.byId(runId);
    if (!run || isFinished(run.status)) return;
    await this.recovery.fail(run, message);
  }

  /**
   * 400 naming each refused block (`message[i]`: its type, media type or size), before anything of the run exists.
   * The transports check that a message is a string or an array; the blocks and their sizes are checked here, once.
   */
  assertAcceptableMessage(message: unknown, field = 'message'): void {
    // A string's own bounds (10,000 characters for a chat message, 50,000 for a task) are its DTO's.
    if (typeof message === 'string') return;
    const { maxImageBytes, maxDocumentBytes, maxMessageBlocks } = this.infra.config;
    const problems = userMessageProblems(
      message,
      { maxImageBytes, maxDocumentBytes, maxBlocks: maxMessageBlocks },
      field,
    );
    if (problems.length)
      throw new ValidationError(`The ${field} is invalid: ${problems[0].message}.`, problems);
  }

  async get(tenantId: string, runId: string): Promise<Run> {
    const run = await this.runs.get(tenantId, runId);
    if (!run) throw new NotFoundError(`Run ${runId}`);
    const [withPending] = await this.infra.approvals.withPending([run]);
    return withPending;
  }

  async page(tenantId: string, conversationId: string, page: number, pageSize: number) {
    const { runs, total } = await this.runs.page(tenantId, conversationId, page, pageSize);
    return { runs: await this.infra.approvals.withPending(runs), total };
  }

  /** The run going on the conversation now, if any. */
  async active(conversationId: string): Promise<string | undefined> {
    return this.cancellations.runningHere(conversationId) ?? (await this.runs.active(conversationId))?.id;
  }

  /**
   * Cancels a run: a queued one ends at once, a running one is stopped wherever it runs (this waits a little for
   * it to stop); a finished one is returned as it is.
   */
  async cancel(tenantId: string, runId: string): Promise<Run> {
    const run = await this.get(tenantId, runId);
    if (isFinished(run.status)) return run;
    if (run.status === 'queued') {
      const cancelled = await this.runs.cancelQueued(run.id);
      if (cancelled) {
        await this.executor.close(
          { id: run.id, conversationId: run.conversationId, agentName: run.agentName, source: run.source },
          { status: 'cancelled', stopReason: 'cancelled', error: null },
        );
        return this.get(tenantId, runId);
      }
    }
    if (run.status === 'requires_action') {
      const cancelled = await this.runs.cancelWaiting(run.id, 'The run was cancelled.');
      if (cancelled) {
        // Its turn is never stored: the model calls it made are recorded (and billed) on their own.
        await this.infra
          .recordCallsOfUnstoredRun(cancelled)
          .catch((e: Error) =>
            this.logger.error(`Could not record the model calls of run ${run.id}: ${e.message}`),
          );
        await this.executor.close(
          { id: run.id, conversationId: run.conversationId, agentName: run.agentName, source: run.source },
          { started: true, status: 'cancelled', stopReason: 'cancelled', error: null },
        );
        void this.dispatch(run.conversationId);
        return this.get(tenantId, runId);
      }
    }
    await this.cancellations.cancel({ runId: run.id });
    const deadline = Date.now() + CANCEL_WAIT_MS;
    while (Date.now() < deadline) {
      const current = await this.get(tenantId, runId);
      if (isFinished(current.status)) return current;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.get(tenantId, runId);
  }

  /** Stops whichever run the conversation has going (a socket's `cancel`), or the one waiting for decisions. */
  async cancelConversation(conversationId: string): Promise<void> {
    await this.cancellations.cancel({ conversationId });
    const waiting = await this.runs.waiting(conversationId);
    if (waiting) await this.cancel(waiting.tenantId, waiting.id);
  }

  /** A run for a busy conversation: a row now, started by whoever frees the conversation next. */
  private async enqueue(runId: string, request: RunRequest, interrupt: boolean): Promise<RunHandle> {
    const conversation = await this.infra.conversations(request.tenantId, request.conversationId!);
    await this.runs.insert({
      ...newRun(runId, request, conversation.id, conversation.agentName),
      status: 'queued',
      priority: interrupt ? 1 : 0,
    });
    // Following before anything can start it, wherever that happens.
    const follower = new RunEventQueue(runId);
    const following = await this.feed.follow(conversation.id, follower);
    follower.onEnd = () => this.feed.unfollow(conversation.id, follower);
    following.start();
    if (interrupt) {
      await this.cancellations.cancel({ conversationId: conversation.id });
      // A run waiting for decisions is interrupted too: it ends cancelled and this one goes ahead.
      const waiting = await this.runs.waiting(conversation.id);
      if (waiting) await this.cancel(request.tenantId, waiting.id);
    }
    // Until it starts, this instance keeps trying too: the run ahead may have ended just before this row existed.
    const retry = setInterval(() => {
      if (follower.lastSeq >= 0 || follower.queue.isEnded) {
        clearInterval(retry);
        this.retries.delete(retry);
      } else void this.dispatch(conversation.id);
    }, QUEUED_RETRY_MS);
    retry.unref();
    this.retries.add(retry);
    void this.dispatch(conversation.id);
    return {
      runId,
      conversationId: conversation.id,
      agentName: conversation.agentName,
      status: 'queued',
      events: follower.queue,
      failure: undefined,
      response: undefined,
      cancel: async () => {
        await this.cancel(request.tenantId, runId);
      },
      detach: () => {
        follower.queue.discard();
        this.feed.unfollow(conversation.id, follower);
      },
    };
  }

  /** Starts the conversation's next queued run if the conversation is free; its runs end by starting the next. */
  async dispatch(conversationId: string): Promise<void> {
    if (this.infra.shutdown.draining) return;
    let lease;
    try {
      lease = await this.infra.lock.acquire(conversationId);
    } catch (error) {
      if (!(error instanceof ConversationBusyError))
        this.logger.warn(`Could not dispatch: ${(error as Error).message}`);
      return;
    }
    let run: Run | null;
    try {
      run = await this.runs.claimNextQueued(conversationId, lease.fence);
    } catch (error) {
      await lease.release();
      this.logger.warn(`Could not read the queued runs of ${conversationId}: ${(error as Error).message}`);
      return;
    }
    if (!run) return lease.release();
    // The lock now belongs to this run: if its process dies, its next execution takes the lock over at once.
    await lease.nameRun(run.id).catch((error: Error) => {
      this.logger.warn(`Could not name run ${run.id} on its conversation's lock: ${error.message}`);
    });
    const identity = { id: run.id, conversationId, agentName: run.agentName, source: run.source };
    const controller = new AbortController();
    let turn;
    try {
      turn = await this.chat.start({
        tenantId: run.tenantId,
        message: run.message,
        conversationId,
        apiKeyId: run.apiKeyId,
        taskId: run.taskId ?? undefined,
        lease,
        ...this.infra.execution(run.id, controller.signal, this.infra.journal.fresh(run.id)),
      });
    } catch (error) {
      // Refused when it was to start (its budget is spent, its conversation was deleted): it ends with that error.
      await this.executor
        .close(identity, { status: 'failed', stopReason: null, error: failureBody(error, conversationId) })
        .catch((e: Error) => this.logger.warn(`Could not close run ${run.id}: ${e.message}`));
      return this.dispatch(conversationId);
    }
    await this.executor
      .begin(identity, turn, controller, (queued) => {
        if (queued) void this.dispatch(conversationId);
      })
      .then((handle) => handle.detach())
      .catch((error: Error) => this.logger.warn(`Could not start queued run ${run.id}: ${error.message}`));
  }

  /**
   * Starts queued runs whose conversation is free, and resumes runs whose owner is gone (their process stopped
   * while they ran: see RunRecovery for how an owner is known).
   */
  async reconcile(): Promise<void> {
    try {
      for (const conversationId of await this.runs.conversationsWithQueuedRuns())
        await this.dispatch(conversationId);
      if (this.infra.shutdown.draining) return;
      await this.recovery.recoverOrphans(
        (run) => this.cancellations.runningHere(run.conversationId) === run.id,
        (run, queued) => {
          if (queued) void this.dispatch(run.conversationId);
        },
      );
    } catch (error) {
      this.logger.warn(`Run reconciliation failed: ${(error as Error).message}`);
    }
  }
}

/** The row of a run that `request` starts or queues on the conversation. */
function newRun(
  id: string,
  request: RunRequest,
  conversationId: string,
  agentName: string,
): Omit<NewRun, 'status' | 'priority' | 'fence'> {
  return {
    id,
    tenantId: request.tenantId,
    conversationId,
    agentName,
    source: request.source,
    message: request.message,
    apiKeyId: request.apiKeyId ?? null,
    taskId: request.taskId ?? null,
  };
}
