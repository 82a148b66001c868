// Runs one queued attempt of an outbox event: sends it, records the attempt, and settles what comes next (delivered,
// the next attempt along WEBHOOK_RETRY_SCHEDULE, or given up) in one transaction keyed on the attempt number.
import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@lib/core';
import { OutboxRepository, Settlement } from './outbox-repository';
import { classifyAttempt, nextDelayMs } from './retry-policy';
import { WebhookDeliverer } from './webhook-deliverer';
import { WebhookOutbox } from './webhook-outbox';
import type { WebhookJob } from './webhook-queue';

export type AttemptResult = 'delivered' | 'retrying' | 'failed' | 'stale';

@Injectable()
export class WebhookAttempts {
  private readonly logger = new Logger('Webhooks');

  constructor(
    private readonly events: OutboxRepository,
    private readonly deliverer: WebhookDeliverer,
    private readonly outbox: WebhookOutbox,
    private readonly config: AppConfig,
  ) {}

  /** `stale` when the job's attempt was already made (a duplicate job) or the event has settled. */
  async run(job: Pick<WebhookJob, 'webhookId' | 'attempt'>): Promise<AttemptResult> {
    const event = await this.events.find(job.webhookId);
    if (
      !event ||
      (event.status !== 'pending' && event.status !== 'queued') ||
      event.attempts !== job.attempt - 1
    ) {
      return 'stale';
    }
    const report = await this.deliverer.attempt(event);
    const verdict = classifyAttempt(report, report.at.getTime());
    let next: Settlement;
    if (verdict.kind === 'delivered') next = { status: 'delivered' };
    else if (verdict.kind === 'give_up' || event.singleAttempt) next = { status: 'failed' };
    else {
      const delay = nextDelayMs(this.config.webhookRetrySchedule, job.attempt, verdict.notBeforeMs);
      next =
        delay === null
          ? { status: 'failed' }
          : { status: 'pending', nextAttemptAt: new Date(report.at.getTime() + report.durationMs + delay) };
    }
    const settled = await this.events.settle(
      event,
      { ...report, webhookId: event.webhookId, event: event.event, attempt: job.attempt },
      next,
    );
    if (!settled) return 'stale';
    if (next.status === 'delivered') return 'delivered';
    const fields = { webhook_id: event.webhookId, task_id: event.taskId ?? undefined, attempt: job.attempt };
    if (next.status === 'failed') {
      this.logger.error(
        fields,
        `Webhook ${event.webhookId} (${event.event}) given up after attempt ${job.attempt}: ${report.error}`,
      );
      return 'failed';
    }
    this.logger.warn(
      fields,
      `Webhook ${event.webhookId} (${event.event}), attempt ${job.attempt}: ${report.error} Next attempt at ${next.nextAttemptAt!.toISOString()}.`,
    );
    await this.outbox.dispatch(event.webhookId);
    return 'retrying';
  }
}
