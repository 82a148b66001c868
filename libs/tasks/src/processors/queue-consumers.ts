// The queue consumers of this process, as a shutdown sees them: stop taking jobs, let the running ones finish
// within the grace period, and hand back those that did not (their lock released, so the stalled-job check of
// another worker queues them again; the task re-runs from its stored state, execution being at-least-once).
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger } from '@nestjs/common';
import type { Job, Queue } from 'bull';
import { WEBHOOKS_QUEUE } from '@lib/webhooks';
import { AGENT_TASKS_QUEUE } from '../task-queue';

@Injectable()
export class QueueConsumers {
  private readonly logger = new Logger('QueueConsumers');
  private readonly running = new Map<string, Job>();
  private readonly queues: Queue[];

  constructor(@InjectQueue(AGENT_TASKS_QUEUE) tasks: Queue, @InjectQueue(WEBHOOKS_QUEUE) webhooks: Queue) {
    this.queues = [tasks, webhooks];
  }

  /** Runs one job's processing, known to the shutdown while it runs. */
  async track<T>(job: Job, run: () => Promise<T>): Promise<T> {
    const key = `${job.queue.name}:${String(job.id)}`;
    this.running.set(key, job);
    try {
      return await run();
    } finally {
      this.running.delete(key);
    }
  }

  get runningCount(): number {
    return this.running.size;
  }

  /**
   * Stops taking new jobs in this process (other workers go on) and waits up to `timeoutMs` for the running
   * ones. Resolves true when none is left.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    await Promise.all(
      this.queues.map((queue) =>
        queue.pause(true, true).catch((error: Error) => {
          this.logger.warn(`Could not stop taking jobs from ${queue.name}: ${error.message}`);
        }),
      ),
    );
    const deadline = Date.now() + timeoutMs;
    while (this.running.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, deadline - Date.now())));
    }
    return this.running.size === 0;
  }

  /** Gives the still-running jobs back to the queue and closes it without waiting for them. */
  async handBack(): Promise<string[]> {
    const jobs = [...this.running.values()];
    for (const job of jobs) {
      await job.releaseLock().catch((error: Error) => {
        this.logger.warn(`Could not release job ${String(job.id)} of ${job.queue.name}: ${error.message}`);
      });
    }
    if (jobs.length) {
      this.logger.warn(
        `Handed back ${jobs.length} unfinished job(s) (${jobs.map((j) => `${j.queue.name}:${String(j.id)}`).join(', ')}): ` +
          'another worker takes them up at its next stalled-job check.',
      );
    }
    await Promise.all(this.queues.map((queue) => queue.close(true).catch(() => undefined)));
    return jobs.map((job) => String(job.id));
  }
}
