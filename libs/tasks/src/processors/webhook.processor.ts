// The `webhooks` queue's consumer: each job is one attempt of an outbox event; the outbox settles it and queues the
// next attempt along WEBHOOK_RETRY_SCHEDULE (Bull itself never retries a webhook job).
import { InjectQueue, Processor } from '@nestjs/bull';
import { Logger, OnModuleInit } from '@nestjs/common';
import { SpanKind } from '@opentelemetry/api';
import type { Job, Queue } from 'bull';
import { AppConfig, contextFrom, inSpan, LogContext } from '@lib/core';
import { WebhookAttempts, WEBHOOKS_QUEUE, WebhookJob } from '@lib/webhooks';
import { QueueConsumers } from './queue-consumers';

@Processor(WEBHOOKS_QUEUE)
export class WebhookProcessor implements OnModuleInit {
  private readonly logger = new Logger(WebhookProcessor.name);

  constructor(
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue<WebhookJob>,
    private readonly attempts: WebhookAttempts,
    private readonly config: AppConfig,
    private readonly consumers: QueueConsumers,
  ) {}

  onModuleInit(): void {
    this.queue
      .process(this.config.taskConcurrency, (job: Job<WebhookJob>) => this.run(job))
      .catch((error: Error) => this.logger.error(`The webhooks processor stopped: ${error.message}`));
  }

  /** One attempt, in the trace of what queued it: the request it sends carries `traceparent`. */
  private run(job: Job<WebhookJob>): Promise<void> {
    const { webhookId, attempt, event, taskId, trace } = job.data;
    return this.consumers.track(job, () =>
      LogContext.run({ task_id: taskId ?? undefined, job_id: String(job.id), event: WEBHOOKS_QUEUE }, () =>
        inSpan(
          'webhook.deliver',
          {
            kind: SpanKind.PRODUCER,
            attributes: {
              'messaging.system': 'bull',
              'messaging.destination.name': WEBHOOKS_QUEUE,
              ...(taskId ? { 'task.id': taskId } : {}),
              'webhook.id': webhookId,
              'webhook.event': event,
              'webhook.attempt': attempt,
            },
          },
          async () => {
            await this.attempts.run({ webhookId, attempt });
          },
          contextFrom(trace),
        ),
      ),
    );
  }
}
