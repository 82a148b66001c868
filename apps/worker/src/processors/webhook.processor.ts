// The `webhooks` queue's consumer: one delivery attempt per run; Bull retries failed ones with backoff.
import { InjectQueue, Processor } from '@nestjs/bull';
import { Logger, OnModuleInit } from '@nestjs/common';
import type { Job, Queue } from 'bull';
import { AppConfig } from '@lib/core';
import { WEBHOOKS_QUEUE, WebhookDeliverer, WebhookJob, WebhookRefusedError } from '@lib/tasks';

@Processor(WEBHOOKS_QUEUE)
export class WebhookProcessor implements OnModuleInit {
  private readonly logger = new Logger(WebhookProcessor.name);

  constructor(
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue<WebhookJob>,
    private readonly deliverer: WebhookDeliverer,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.queue
      .process(this.config.taskConcurrency, (job: Job<WebhookJob>) => this.run(job))
      .catch((error: Error) => this.logger.error(`The webhooks processor stopped: ${error.message}`));
  }

  private async run(job: Job<WebhookJob>): Promise<void> {
    try {
      await this.deliverer.deliver(job.data, job.attemptsMade + 1);
    } catch (error) {
      // A refused target stays refused: retrying would only knock on the same door.
      if (error instanceof WebhookRefusedError) await job.discard();
      throw error;
    }
  }
}
