// Sends an alert (a cost anomaly, a provider rate limit near capacity) to ALERT_WEBHOOK_URL through the webhook outbox: staged in the transaction that records the
// anomaly, signed the Standard Webhooks way with WEBHOOK_SECRET (as task webhooks are), retried along
// WEBHOOK_RETRY_SCHEDULE and relayed after a crash or a Redis outage, like any other webhook event.
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '@lib/core';
import { Queryable, WebhookOutbox } from '@lib/webhooks';

@Injectable()
export class CostAlertSender {
  constructor(
    private readonly config: AppConfig,
    private readonly outbox: WebhookOutbox,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  get enabled(): boolean {
    return Boolean(this.config.alertWebhookUrl && this.config.webhookSecret);
  }

  /** Adds the alert inside the caller's transaction; its webhook-id is the anomaly's id. */
  async stage(db: Queryable, id: string, tenantId: string, payload: Record<string, unknown>): Promise<void> {
    await this.outbox.stage(db, {
      webhookId: id,
      tenantId,
      event: String(payload.event),
      url: this.config.alertWebhookUrl,
      body: JSON.stringify(payload),
    });
  }

  /** An alert that belongs to no transaction of its own (a deployment-wide one): staged, then handed over. */
  async send(id: string, payload: Record<string, unknown>): Promise<void> {
    await this.stage(this.db, id, this.config.defaultTenant, payload);
    await this.dispatch(id);
  }

  /** Hands the staged alert to the queue now (else the relay does). */
  async dispatch(id: string): Promise<void> {
    await this.outbox.dispatch(id);
  }
}
