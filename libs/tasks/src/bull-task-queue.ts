// The TaskQueue port on Bull: job id = task id, retries with exponential backoff, bounded job history.
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger } from '@nestjs/common';
import type { JobStatus, Queue } from 'bull';
import { AppConfig, traceCarrier } from '@lib/core';
import { AGENT_TASKS_QUEUE, TaskJob, TaskJobState, TaskQueue, TaskRemoval } from './task-queue';

const DAY_SECONDS = 86_400;

@Injectable()
export class BullTaskQueue extends TaskQueue {
  private readonly logger = new Logger('TaskQueue');
  readonly taskQueueName: string;

  constructor(
    @InjectQueue(AGENT_TASKS_QUEUE) private readonly tasks: Queue<TaskJob>,
    private readonly config: AppConfig,
  ) {
    super();
    this.taskQueueName = `${config.queuePrefix}:${AGENT_TASKS_QUEUE}`;
    // Without a listener an 'error' event would crash the process; Redis outages surface through the calls.
    tasks.on('error', (error: Error) => this.logger.warn(`Queue ${tasks.name}: ${error.message}`));
  }

  async enqueueTask(job: TaskJob): Promise<void> {
    await this.tasks.add(withTrace(job), {
      jobId: job.taskId,
      attempts: this.config.taskMaxAttempts,
      backoff: { type: 'exponential', delay: this.config.taskBackoffMs },
      removeOnComplete: { age: 7 * DAY_SECONDS, count: 10_000 },
      removeOnFail: { age: 30 * DAY_SECONDS, count: 10_000 },
    });
  }

  async enqueueResumption(job: TaskJob, key: string): Promise<void> {
    await this.tasks.add(withTrace(job), {
      jobId: `${job.taskId}:resume:${key}`,
      attempts: this.config.taskMaxAttempts,
      backoff: { type: 'exponential', delay: this.config.taskBackoffMs },
      removeOnComplete: { age: 7 * DAY_SECONDS, count: 10_000 },
      removeOnFail: { age: 30 * DAY_SECONDS, count: 10_000 },
    });
  }

  async removeTask(taskId: string): Promise<TaskRemoval> {
    const job = await this.tasks.getJob(taskId);
    if (!job) return 'missing';
    if (await job.isActive()) return 'active';
    try {
      await job.remove();
      return 'removed';
    } catch {
      // Bull refuses to remove a job a worker has locked: it started between the two calls.
      return 'active';
    }
  }

  async taskJobState(taskId: string): Promise<{ state: TaskJobState; failedReason?: string }> {
    const job = await this.tasks.getJob(taskId);
    if (!job) return { state: 'missing' };
    const state = (await job.getState()) as JobStatus | 'stuck';
    switch (state) {
      case 'active':
      case 'delayed':
      case 'completed':
        return { state };
      case 'failed':
        return { state, failedReason: job.failedReason };
      default:
        return { state: 'waiting' };
    }
  }
}

/** The job with the active trace context, so its run continues the trace that queued it (one trace per task). */
function withTrace<T extends { trace?: Record<string, string> }>(job: T): T {
  const trace = traceCarrier();
  return Object.keys(trace).length ? { ...job, trace } : job;
}
