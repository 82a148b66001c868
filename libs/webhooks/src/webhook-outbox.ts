// The outbox's service API: stage an event in the caller's transaction, hand it to the queue right after the commit,
// relay whatever is still pending (a crash or a Redis outage between the two), list a task's attempts, redeliver.
import { Injectable, Logger } from '@nestjs/common';
import { AppConfig, IdGenerator } from '@lib/core';
import { AttemptRecord, OutboxEvent, OutboxRepository, Queryable } from './outbox-repository';
import { WebhookQueue } from './webhook-queue';

export interface NewWebhookEvent {
  /** Given by the caller when the event already has an id (a cost anomaly's); else `msg_…` is made. */
  webhookId?: string;
  tenantId: string;
  taskId?: string | null;
  event: string;
  url: string;
  /** The JSON body, sent as these exact bytes at every attempt. */
  body: string;
}

/** Events handed over per relay pass; the rest wait for the next one. */
const RELAY_BATCH = 500;

@Injectable()
export class WebhookOutbox {
  private readonly logger = new Logger('WebhookOutbox');

  constructor(
    private readonly events: OutboxRepository,
    private readonly queue: WebhookQueue,
    private readonly ids: IdGenerator,
    private readonly config: AppConfig,
  ) {}

  /** Adds the event inside the caller's transaction (so it exists if and only if that commits); answers its id. */
  async stage(db: Queryable, event: NewWebhookEvent): Promise<string> {
    const webhookId = event.webhookId ?? `msg_${this.ids.uuid().replace(/-/g, '')}`;
    await this.events.add(db, {
      webhookId,
      tenantId: event.tenantId,
      taskId: event.taskId ?? null,
      event: event.event,
      url: event.url,
      body: event.body,
      queue: this.queue.name,
    });
    return webhookId;
  }

  /**
   * Hands a staged event's next attempt to the queue now. Never throws: when the queue is unreachable the event
   * stays pending and the next relay pass hands it over.
   */
  async dispatch(webhookId: string): Promise<boolean> {
    try {
      const event = await this.events.find(webhookId);
      if (!event || event.status !== 'pending') return false;
      await this.handOver(event);
      return true;
    } catch (error) {
      this.logger.warn(
        { webhook_id: webhookId, err: error },
        `Webhook ${webhookId} stays pending until the next relay pass: ${(error as Error).message}`,
      );
      return false;
    }
  }

  /**
   * One relay pass over this queue's events: due pending ones are handed over, and queued ones whose job is gone
   * (Redis lost it) or ended without settling the attempt are handed over again. Stops at the first queue failure.
   */
  async relay(): Promise<{ handedOver: string[] }> {
    const handedOver: string[] = [];
    for (const event of await this.events.due(this.queue.name, RELAY_BATCH)) {
      await this.handOver(event);
      handedOver.push(event.webhookId);
    }
    for (const event of await this.events.overdue(
      this.queue.name,
      this.config.reconcileIntervalMs,
      RELAY_BATCH,
    )) {
      const attempt = event.attempts + 1;
      const state = await this.queue.state(event.webhookId, attempt);
      if (state !== 'missing' && state !== 'finished') continue;
      if (state === 'finished') await this.queue.removeFinished(event.webhookId, attempt);
      await this.queue.add(event, attempt, 0);
      handedOver.push(event.webhookId);
    }
    if (handedOver.length) this.logger.warn(`Relayed ${handedOver.length} webhook event(s) to the queue.`);
    return { handedOver };
  }

  attemptsOfTask(taskId: string): Promise<AttemptRecord[]> {
    return this.events.attemptsOfTask(taskId);
  }

  /**
   * A new attempt of the task's latest event, same webhook id, due now; null when the task has no event. When the
   * queue is unreachable, the relay makes the attempt later.
   */
  async redeliverTask(taskId: string): Promise<{ webhookId: string; event: string; attempt: number } | null> {
    const latest = await this.events.latestOfTask(taskId);
    if (!latest) return null;
    const event = await this.events.redeliver(latest.webhookId);
    if (event.status === 'queued') {
      await this.queue.promote(event.webhookId, event.attempts + 1).catch((error: Error) => {
        this.logger.warn(
          `The redelivery of ${event.webhookId} waits for its scheduled attempt: ${error.message}`,
        );
      });
    } else {
      await this.dispatch(event.webhookId);
    }
    return { webhookId: event.webhookId, event: event.event, attempt: event.attempts + 1 };
  }

  private async handOver(event: OutboxEvent): Promise<void> {
    const delayMs = event.nextAttemptAt.getTime() - Date.now();
    await this.queue.add(event, event.attempts + 1, delayMs);
    await this.events.markQueued(event.webhookId, event.attempts);
  }
}
