// The `webhooks` queue's consumer: one delivery attempt per run; Bull retries failed ones with backoff.
import { InjectQueue, Processor } from '@nestjs/bull';
import { Logger, OnModuleInit } from '@nestjs/common';
import { SpanKind } from '@opentelemetry/api';
import type { Job, Queue } from 'bull';
import { AppConfig, contextFrom, inSpan, LogContext } from '@lib/core';
import { WEBHOOKS_QUEUE, WebhookJob } from '../task-queue';
import { WebhookDeliverer, WebhookRefusedError } from '../webhook-deliverer';
import { QueueConsumers } from './queue-consumers';

@Processor(WEBHOOKS_QUEUE)
export class WebhookProcessor implements OnModuleInit {
  private readonly logger = new Logger(WebhookProcessor.name);

  constructor(
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue<WebhookJob>,
    private readonly deliverer: WebhookDeliverer,
    private readonly config: AppConfig,
    private readonly consumers: QueueConsumers,
  ) {}

  onModuleInit(): void {
    this.queue
      .process(this.config.taskConcurrency, (job: Job<WebhookJob>) => this.run(job))
      .catch((error: Error) => this.logger.error(`The webhooks processor stopped: ${error.message}`));
  }

  /** One attempt, in the task's trace: the request it sends carries `traceparent`. */
  private run(job: Job<WebhookJob>): Promise<void> {
    const { taskId, tenantId, webhookId, event, trace } = job.data;
    return this.consumers.track(job, () =>
      LogContext.run(
        { task_id: taskId, tenant_id: tenantId, job_id: String(job.id), event: WEBHOOKS_QUEUE },
        () =>
          inSpan(
            'webhook.deliver',
            {
              kind: SpanKind.PRODUCER,
              attributes: {
                'messaging.system': 'bull',
                'messaging.destination.name': WEBHOOKS_QUEUE,
                'task.id': taskId,
                'webhook.id': webhookId,
                'webhook.event': event,
                'webhook.attempt': job.attemptsMade + 1,
              },
            },
            () => this.deliver(job),
            contextFrom(trace),
          ),
      ),
    );
  }

  private async deliver(job: Job<WebhookJob>): Promise<void> {
    try {
      await this.deliverer.deliver(job.data, job.attemptsMade + 1);
    } catch (error) {
      // A refused target stays refused: retrying would only knock on the same door.
      if (error instanceof WebhookRefusedError) await job.discard();
      throw error;
    }
  }
}
