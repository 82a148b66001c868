// Outbound signed webhooks (task events, cost alerts): the SSRF guard, the outbox, the relay, the retry schedule and
// delivery. Below tasks and usage, which both send through it; the Bull root configuration lives here, the lowest
// module that needs a queue.
import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { AppConfig } from '@lib/core';
import { OutboundUrlPolicy } from './outbound-url-policy';
import { OutboxRepository } from './outbox-repository';
import { WebhookAttempts } from './webhook-attempts';
import { WebhookDeliverer } from './webhook-deliverer';
import { WebhookOutbox } from './webhook-outbox';
import { WEBHOOKS_QUEUE, WebhookQueue } from './webhook-queue';

@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        url: config.redisUrl,
        prefix: config.queuePrefix,
        settings: {
          // A worker that dies (SIGKILL, OOM, lost host) stops renewing its lock; after lockDuration another
          // worker's stalled check (every stalledInterval) puts the job back, up to maxStalledCount times.
          lockDuration: config.taskLockDurationMs,
          lockRenewTime: Math.floor(config.taskLockDurationMs / 2),
          stalledInterval: config.taskStalledIntervalMs,
          maxStalledCount: config.taskMaxStalledCount,
        },
      }),
    }),
    BullModule.registerQueue({ name: WEBHOOKS_QUEUE }),
  ],
  providers: [
    OutboundUrlPolicy,
    OutboxRepository,
    WebhookQueue,
    WebhookDeliverer,
    WebhookOutbox,
    WebhookAttempts,
  ],
  exports: [BullModule, OutboundUrlPolicy, WebhookOutbox, WebhookAttempts],
})
export class WebhooksModule {}
