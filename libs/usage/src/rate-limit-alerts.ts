// Sends the provider limiter's near-capacity warnings (RateLimitWatch) to ALERT_WEBHOOK_URL as signed
// `rate_limit.near_capacity` events, the way cost anomalies are sent.
import { Injectable, OnModuleInit } from '@nestjs/common';
import { IdGenerator } from '@lib/core';
import { NearCapacity, RateLimitWatch } from '@lib/llm';
import { CostAlertSender } from './cost-alert-sender';

@Injectable()
export class RateLimitAlerts implements OnModuleInit {
  constructor(
    private readonly watch: RateLimitWatch,
    private readonly sender: CostAlertSender,
    private readonly ids: IdGenerator,
  ) {}

  onModuleInit(): void {
    if (!this.sender.enabled) return;
    this.watch.onNearCapacity((alert) => this.send(alert));
  }

  private async send(alert: NearCapacity): Promise<void> {
    const id = this.ids.uuid();
    await this.sender.send(id, { event: 'rate_limit.near_capacity', alert: { id, ...alert } });
  }
}
