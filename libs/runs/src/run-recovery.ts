// Executing an existing run again, from its journal, on whichever instance or worker asks: a retried task, a run
// whose process died or was restarted, (later) a run resumed after an approval decision.
//
// Ownership: a running run is owned by the execution holding its conversation's lock, whose value names the run
// (ConversationLock: `…|run:<run id>`). The lock's renewal (every third of CONVERSATION_LOCK_TTL_MS) is the owner's
// heartbeat: when its process dies, the lock expires within one TTL. The reconciler (every RUN_RECONCILE_INTERVAL_MS,
// on every API instance and worker) reads the runs marked running and their conversations' locks in one MGET; a run
// whose lock is gone has lost its owner and is resumed here (the lock is taken the ordinary way, so one instance
// wins), and a run whose conversation is held by another run is failed. Task runs are left to their queue: the
// task's next attempt (Bull's retry, or its stalled-job check) resumes the run in a worker, and a task the queue
// gives up on fails its run.
import { Injectable, Logger } from '@nestjs/common';
import { ConversationBusyError } from '@lib/core';
import { ChatService } from '@lib/chat';
import type { ToolGate } from '@lib/chat';
import { RunExecutor, RunHandle, RunIdentity } from './run-executor';
import { failureBody } from './run-failures';
import { RunInfrastructure } from './run-infrastructure';
import type { Run, RunRequest } from './run-records';
import { RunRepository } from './run-repository';

/**
 * How often the reconciler resumes one run: a run that keeps taking its process down with it (a poison input, a
 * tool that crashes the process) is failed after this many resumes instead of being resumed forever.
 */
export const MAX_RECONCILER_RESUMES = 3;

export interface ResumeOptions {
  /** Also execute again a run that ended `failed` (a task's retry after a failed attempt). Default false. */
  reopenFailed?: boolean;
  /**
   * Take the conversation's lock even while an earlier execution of this run holds it (default true: the caller
   * knows that execution is gone, e.g. the queue found its worker dead). False: only a free lock is taken.
   */
  takeover?: boolean;
  onIteration?: RunRequest['onIteration'];
  gate?: ToolGate;
  /** Runs once the conversation is free again (the supervisor starts its next queued run). */
  onEnded?: (queuedBehind: boolean) => void;
  /** The reconciler resumes the run (its owner is gone): counted, and bounded by MAX_RECONCILER_RESUMES. */
  byReconciler?: boolean;
}

/** What `resume` found: the run going again, a run that has ended (nothing to do), or no such run. */
export type Resumed =
  { kind: 'resumed'; handle: RunHandle } | { kind: 'finished'; run: Run } | { kind: 'missing' };

@Injectable()
export class RunRecovery {
  private readonly logger = new Logger('Runs');

  constructor(
    private readonly chat: ChatService,
    private readonly runs: RunRepository,
    private readonly executor: RunExecutor,
    private readonly infra: RunInfrastructure,
  ) {}

  /**
   * Executes the run again from its journal: takes its conversation's lock (its own lock at once, see
   * `takeover`), marks it running under the new lease, and continues it where its steps end, publishing after the
   * events its log already has (no `run_started`, nothing for replayed steps). Throws ConversationBusyError when
   * another run holds the conversation.
   */
  async resume(runId: string, options: ResumeOptions = {}): Promise<Resumed> {
    const found = await this.runs.byId(runId);
    if (!found) return { kind: 'missing' };
    if (!executable(found, options.reopenFailed ?? false)) return { kind: 'finished', run: found };
    const lease = await this.infra.lock.acquire(found.conversationId, {
      runId,
      takeover: options.takeover ?? true,
    });
    let run: Run | null;
    let journal;
    try {
      run = await this.runs.claimForExecution(
        runId,
        lease.fence,
        options.reopenFailed ?? false,
        options.byReconciler ?? false,
      );
      journal = run ? await this.infra.journal.resume(runId) : undefined;
    } catch (error) {
      await lease.release();
      throw error;
    }
    if (run && (run.resumes ?? 0) > MAX_RECONCILER_RESUMES) {
      await lease.release();
      await this.fail(
        run,
        `The run stopped with its process ${MAX_RECONCILER_RESUMES + 1} times and is not resumed again; send the message again.`,
      );
      return { kind: 'finished', run: (await this.runs.byId(runId)) ?? run };
    }
    if (!run || !journal) {
      await lease.release();
      return { kind: 'finished', run: (await this.runs.byId(runId)) ?? found };
    }
    const identity: RunIdentity = {
      id: run.id,
      conversationId: run.conversationId,
      agentName: run.agentName,
      source: run.source,
    };
    this.logger.log(`Run ${run.id} is executed again from ${journal.recorded.length} recorded step(s).`);
    const controller = new AbortController();
    let turn;
    try {
      turn = await this.chat.start({
        tenantId: run.tenantId,
        message: run.message,
        conversationId: run.conversationId,
        apiKeyId: run.apiKeyId,
        taskId: run.taskId ?? undefined,
        onIteration: options.onIteration,
        lease,
        // Every execution passes the approval gate: a call decided meanwhile runs or is refused as decided.
        ...this.infra.execution(run.id, controller.signal, journal, { gate: options.gate }),
      });
    } catch (error) {
      // Refused as it was to go on (its conversation was deleted, its budget is spent): it ends with that error.
      await this.executor.close(identity, {
        started: true,
        status: 'failed',
        stopReason: null,
        error: failureBody(error, run.conversationId),
      });
      throw error;
    }
    const handle = await this.executor.begin(
      identity,
      turn,
      controller,
      (queued) => options.onEnded?.(queued),
      { resumed: true },
    );
    return { kind: 'resumed', handle };
  }

  /**
   * One pass over the runs marked running: those whose owner is gone are resumed here (or failed when their
   * conversation is held by another run). `here` says whether this process runs a run itself.
   */
  async recoverOrphans(
    here: (run: Run) => boolean,
    onEnded: (run: Run, queuedBehind: boolean) => void,
  ): Promise<void> {
    const running = (await this.runs.running()).filter((run) => run.source !== 'task' && !here(run));
    if (!running.length) return;
    const holders = await this.infra.lock.holders([...new Set(running.map((r) => r.conversationId))]);
    for (const run of running) {
      const holder = holders.get(run.conversationId);
      // Its execution still holds the lock, or a dispatcher is about to start a run: not orphaned.
      if (holder === run.id || holder === null) continue;
      if (holder !== undefined) {
        await this.fail(
          run,
          'The instance running this run stopped, and the conversation went on without it.',
        );
        continue;
      }
      try {
        const resumed = await this.resume(run.id, {
          takeover: false,
          byReconciler: true,
          onEnded: (queued) => onEnded(run, queued),
        });
        // Nobody waits for it here: its followers read it from the conversation's events.
        if (resumed.kind === 'resumed') resumed.handle.detach();
      } catch (error) {
        if (error instanceof ConversationBusyError) continue;
        this.logger.warn(`Could not resume run ${run.id}: ${(error as Error).message}`);
      }
    }
  }

  /** Ends a run that no execution will carry on (its owner is gone), with a service_unavailable error. */
  async fail(
    run: Pick<Run, 'id' | 'conversationId' | 'agentName' | 'source'>,
    message: string,
  ): Promise<void> {
    await this.executor.close(
      { id: run.id, conversationId: run.conversationId, agentName: run.agentName, source: run.source },
      { started: true, status: 'failed', stopReason: null, error: { type: 'service_unavailable', message } },
    );
  }
}

function executable(run: Run, reopenFailed: boolean): boolean {
  return (
    run.status === 'running' || run.status === 'requires_action' || (reopenFailed && run.status === 'failed')
  );
}
