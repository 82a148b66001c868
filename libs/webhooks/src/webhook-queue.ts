// The Bull `webhooks` queue as the outbox uses it: one job per attempt (job id `<webhook id>.<attempt>`, so handing
// the same attempt over twice adds one job), delayed until the attempt is due. Bull never retries a job itself:
// the schedule lives in PostgreSQL, and a job lost with Redis is handed over again by the relay.
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger } from '@nestjs/common';
import type { JobStatus, Queue } from 'bull';
import { AppConfig, traceCarrier } from '@lib/core';
import type { TraceCarrier } from '@lib/core';

export const WEBHOOKS_QUEUE = 'webhooks';

export interface WebhookJob {
  webhookId: string;
  /** The attempt this job makes, from 1. */
  attempt: number;
  /** For logs and spans: the event's name and its task (null for an alert). */
  event: string;
  taskId: string | null;
  /** The trace context of what queued it (W3C `traceparent`), when tracing is on. */
  trace?: TraceCarrier;
}

export type WebhookJobState = 'missing' | 'waiting' | 'delayed' | 'active' | 'finished';

const DAY_SECONDS = 86_400;

@Injectable()
export class WebhookQueue {
  private readonly logger = new Logger('WebhookQueue');
  /** The queue's name with its prefix: what an outbox row records as its owner. */
  readonly name: string;

  constructor(
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue<WebhookJob>,
    config: AppConfig,
  ) {
    this.name = `${config.queuePrefix}:${WEBHOOKS_QUEUE}`;
    // Without a listener an 'error' event would crash the process; Redis outages surface through the calls.
    queue.on('error', (error: Error) => this.logger.warn(`Queue ${queue.name}: ${error.message}`));
  }

  async add(
    event: { webhookId: string; event: string; taskId: string | null },
    attempt: number,
    delayMs: number,
  ): Promise<void> {
    const trace = traceCarrier();
    const { webhookId } = event;
    await this.queue.add(
      {
        webhookId,
        attempt,
        event: event.event,
        taskId: event.taskId,
        ...(Object.keys(trace).length ? { trace } : {}),
      },
      {
        jobId: jobId(webhookId, attempt),
        delay: Math.max(0, Math.round(delayMs)),
        attempts: 1,
        removeOnComplete: { age: DAY_SECONDS, count: 10_000 },
        removeOnFail: { age: 7 * DAY_SECONDS, count: 10_000 },
      },
    );
  }

  async state(webhookId: string, attempt: number): Promise<WebhookJobState> {
    const job = await this.queue.getJob(jobId(webhookId, attempt));
    if (!job) return 'missing';
    const state = (await job.getState()) as JobStatus | 'stuck';
    if (state === 'completed' || state === 'failed') return 'finished';
    if (state === 'active' || state === 'delayed') return state;
    return 'waiting';
  }

  /** Runs a delayed attempt now. */
  async promote(webhookId: string, attempt: number): Promise<void> {
    const job = await this.queue.getJob(jobId(webhookId, attempt));
    if (job && (await job.isDelayed())) await job.promote();
  }

  /** Removes a finished job, so the same attempt can be queued again. */
  async removeFinished(webhookId: string, attempt: number): Promise<void> {
    const job = await this.queue.getJob(jobId(webhookId, attempt));
    if (job && ((await job.isCompleted()) || (await job.isFailed()))) await job.remove();
  }
}

function jobId(webhookId: string, attempt: number): string {
  return `${webhookId}.${attempt}`;
}
