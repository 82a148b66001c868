// The `agent-tasks` queue's consumer: runs each job through TaskExecutor with the configured concurrency.
import { InjectQueue, OnQueueFailed, OnQueueStalled, Processor } from '@nestjs/bull';
import { Logger, OnModuleInit } from '@nestjs/common';
import { SpanKind } from '@opentelemetry/api';
import type { Job, Queue } from 'bull';
import { AppConfig, contextFrom, inSpan, LogContext } from '@lib/core';
import { TaskExecutor } from '../task-executor';
import { PermanentTaskFailure } from '../task-failures';
import { AGENT_TASKS_QUEUE, TaskJob } from '../task-queue';
import { QueueConsumers } from './queue-consumers';

const STALLED_LIMIT = 'job stalled more than allowable limit';

@Processor(AGENT_TASKS_QUEUE)
export class AgentTaskProcessor implements OnModuleInit {
  private readonly logger = new Logger(AgentTaskProcessor.name);

  constructor(
    @InjectQueue(AGENT_TASKS_QUEUE) private readonly queue: Queue<TaskJob>,
    private readonly executor: TaskExecutor,
    private readonly config: AppConfig,
    private readonly consumers: QueueConsumers,
  ) {}

  /** Registered here rather than with @Process: the concurrency comes from the validated config. */
  onModuleInit(): void {
    this.queue
      .process(this.config.taskConcurrency, (job: Job<TaskJob>) => this.run(job))
      .catch((error: Error) => this.logger.error(`The agent-tasks processor stopped: ${error.message}`));
  }

  /**
   * One run, in the trace of the request that queued the task (`traceparent` in the job) and with the task's
   * ids on every log line; the executor adds the tenant and conversation once it has read the task.
   */
  private run(job: Job<TaskJob>): Promise<void> {
    const { taskId, requestId, trace } = job.data;
    return this.consumers.track(job, () =>
      LogContext.run(
        {
          task_id: taskId,
          request_id: requestId ?? undefined,
          job_id: String(job.id),
          event: AGENT_TASKS_QUEUE,
        },
        () =>
          inSpan(
            'task.process',
            {
              kind: SpanKind.CONSUMER,
              attributes: {
                'messaging.system': 'bull',
                'messaging.destination.name': AGENT_TASKS_QUEUE,
                'task.id': taskId,
                'task.attempt': job.attemptsMade + 1,
              },
            },
            () => this.execute(job),
            contextFrom(trace),
          ),
      ),
    );
  }

  private async execute(job: Job<TaskJob>): Promise<void> {
    try {
      await this.executor.execute({
        taskId: job.data.taskId,
        attempt: job.attemptsMade + 1,
        maxAttempts: job.opts.attempts ?? 1,
      });
    } catch (error) {
      // The task has ended failed: Bull must not spend its remaining attempts on it.
      if (error instanceof PermanentTaskFailure) await job.discard();
      throw error;
    }
  }

  @OnQueueStalled()
  onStalled(job: Job<TaskJob>): void {
    this.logger.warn(`Task ${job.data.taskId}: its worker stopped responding; the job is queued again.`);
  }

  /** A job Bull fails without a run (its workers died more than TASK_MAX_STALLED_COUNT times). */
  @OnQueueFailed()
  async onFailed(job: Job<TaskJob> | null, error: Error): Promise<void> {
    if (!job || error.message !== STALLED_LIMIT) return;
    await this.executor
      .abandon(
        job.data.taskId,
        `The task's worker stopped responding more than ${this.config.taskMaxStalledCount} times; it was not retried again.`,
      )
      .catch((e: Error) => this.logger.error(`Could not mark task ${job.data.taskId} failed: ${e.message}`));
  }
}
