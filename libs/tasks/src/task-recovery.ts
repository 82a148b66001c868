// Recovery: a task row is the source of truth, so an unfinished task whose job is missing (the process died between
// storing the row and queuing the job, or Redis lost it) is queued again, and one whose job the queue has given up
// on ends failed. Nothing is left `queued` or `running` forever. Run at start-up over every unfinished task, and
// periodically (the Reconciler) over queued ones.
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { TaskLifecycle } from './task-lifecycle';
import { TaskQueue } from './task-queue';
import { TaskRepository } from './task-repository';

const BATCH = 1_000;

@Injectable()
export class TaskRecovery implements OnApplicationBootstrap {
  private readonly logger = new Logger('TaskRecovery');

  constructor(
    private readonly tasks: TaskRepository,
    private readonly queue: TaskQueue,
    private readonly lifecycle: TaskLifecycle,
  ) {}

  onApplicationBootstrap(): void {
    // Not awaited: start-up must not wait on (or fail with) Redis; it is retried at the next start.
    void this.recover().catch((error: Error) => {
      this.logger.error(`Recovery of unfinished tasks failed: ${error.message}`);
    });
  }

  /**
   * `queuedOnly` leaves running tasks alone: while processes run, a running task's job may be missing only because
   * Redis lost it, and its worker still finishes it (one whose worker died too is recovered at the next start).
   */
  async recover(options: { queuedOnly?: boolean } = {}): Promise<{ requeued: string[]; failed: string[] }> {
    const requeued: string[] = [];
    const failed: string[] = [];
    for (const task of await this.tasks.unfinished(this.queue.taskQueueName, BATCH, options.queuedOnly)) {
      const job = await this.queue.taskJobState(task.id);
      if (job.state === 'missing') {
        await this.queue.enqueueTask({ taskId: task.id, requestId: task.requestId });
        requeued.push(task.id);
      } else if (job.state === 'failed' || job.state === 'completed') {
        const reason = job.failedReason ? `: ${job.failedReason}` : '';
        const ended = await this.lifecycle.finish(task.id, 'failed', {
          error: `The task's job ended without finishing the task${reason}.`,
        });
        if (ended) failed.push(task.id);
      }
    }
    if (requeued.length || failed.length) {
      this.logger.warn(`Recovered tasks: ${requeued.length} queued again, ${failed.length} marked failed.`);
    }
    return { requeued, failed };
  }
}
