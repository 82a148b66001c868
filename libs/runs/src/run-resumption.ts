// Re-executes a run whose tool calls have all been decided. A task's run is re-executed by a worker (the tasks
// lib registers how: it queues the task again, so the worker slot it waited without is taken only while it runs);
// any other run is re-executed here, and its events reach the conversation's followers on every instance.
import { Injectable, Logger } from '@nestjs/common';
import { ConversationBusyError } from '@lib/core';
import { ApprovalRepository } from './approval-repository';
import { RunRepository } from './run-repository';
import { RunSupervisor } from './run-supervisor';

/** How often, and how far apart, a resumption tries to take the conversation's lock. */
const LOCK_ATTEMPTS = 20;
const LOCK_RETRY_MS = 50;

/**
 * Queues a task's run to be re-executed by a worker. `key` names this resumption (the run and how many of its calls
 * are decided): the decision and the sweeper may both ask for it, and it must be queued once.
 */
export type TaskRunResumer = (run: { runId: string; taskId: string; key: string }) => Promise<void>;

@Injectable()
export class RunResumption {
  private readonly logger = new Logger('Runs');
  private taskResumer: TaskRunResumer | undefined;

  constructor(
    private readonly runs: RunRepository,
    private readonly supervisor: RunSupervisor,
    private readonly approvals: ApprovalRepository,
  ) {}

  /** Called once by the tasks lib: how a task's run is handed to a worker. */
  resumeTasksWith(resumer: TaskRunResumer): void {
    this.taskResumer = resumer;
  }

  /**
   * Re-executes the run if it waits for decisions and none is pending any more; otherwise does nothing (another
   * instance resumed it first, or it was cancelled). Resolves once the run is handed over, not when it ends.
   */
  async resume(runId: string): Promise<void> {
    const run = await this.runs.byId(runId);
    if (!run || run.status !== 'requires_action') return;
    if (run.taskId && this.taskResumer) {
      // The task's job claims the run when a worker takes it.
      const decided = await this.approvals.decidedCount(runId);
      await this.taskResumer({ runId, taskId: run.taskId, key: `${runId}:${decided}` });
      return;
    }
    // One resumer wins the claim (a decision and a sweeper may both try). From here the run is `running` and its
    // execution is the one holding its conversation's lock: if this process stops before it takes the lock, the
    // reconciler finds a running run with no owner and resumes it.
    if (!(await this.runs.claimWaiting(runId))) return;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const resumed = await this.supervisor.resume(runId, { takeover: false });
        // Nobody waits for it here: followers read its events from the conversation.
        if (resumed.kind === 'resumed') resumed.handle.detach();
        return;
      } catch (error) {
        // The execution that paused may still be letting its lock go (a decision made within milliseconds of the
        // pause): try again shortly. After that, the reconciler resumes it once nobody holds the lock.
        if (error instanceof ConversationBusyError && attempt < LOCK_ATTEMPTS) {
          await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
          continue;
        }
        this.logger.warn(`Run ${runId} was not resumed here: ${(error as Error).message}`);
        return;
      }
    }
  }
}
