// Delivers a cost anomaly to ALERT_WEBHOOK_URL, signed the Standard Webhooks way with WEBHOOK_SECRET (as task
// webhooks are). Best effort: a few attempts in this process, each failure logged; the anomaly itself is
// recorded in PostgreSQL and logged whatever happens to the POST.
import { Injectable, Logger } from '@nestjs/common';
import { AppConfig, Clock, webhookHeaders } from '@lib/core';

const ATTEMPTS = 3;
const BACKOFF_MS = 1_000;

@Injectable()
export class CostAlertSender {
  private readonly logger = new Logger('CostAlerts');

  constructor(
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  get enabled(): boolean {
    return Boolean(this.config.alertWebhookUrl && this.config.webhookSecret);
  }

  async send(id: string, payload: Record<string, unknown>): Promise<boolean> {
    if (!this.enabled) return false;
    const body = JSON.stringify(payload);
    for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
      const timestamp = Math.floor(this.clock.now().getTime() / 1000);
      try {
        const response = await fetch(this.config.alertWebhookUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'agent-backend-alerts',
            ...webhookHeaders(this.config.webhookSecret, id, timestamp, body),
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(this.config.webhookTimeoutMs),
        });
        await response.body?.cancel();
        if (response.ok) return true;
        this.logger.warn(
          `The cost alert ${id} was answered ${response.status} (attempt ${attempt} of ${ATTEMPTS}).`,
        );
      } catch (error) {
        this.logger.warn(
          `The cost alert ${id} could not be delivered (attempt ${attempt} of ${ATTEMPTS}): ${(error as Error).message}`,
        );
      }
      if (attempt < ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, BACKOFF_MS * attempt));
    }
    return false;
  }
}
