// Delivers one webhook attempt: re-checks where the URL points, connects to exactly the address it checked,
// never follows a redirect, and records the attempt. A failed attempt throws so the queue retries it.
import { Injectable, Logger } from '@nestjs/common';
import { request as httpRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { AppConfig, traceCarrier, webhookHeaders } from '@lib/core';
import { TaskRepository } from './task-repository';
import { toTaskStatus } from './task-records';
import type { WebhookJob } from './task-queue';
import { ResolvedTarget, WebhookTargetRefused, WebhookUrlPolicy } from './webhook-url-policy';

/** An attempt that must not be retried: the target itself is refused. */
export class WebhookRefusedError extends Error {
  override name = 'WebhookRefusedError';
}

export class WebhookAttemptFailed extends Error {
  override name = 'WebhookAttemptFailed';
}

@Injectable()
export class WebhookDeliverer {
  private readonly logger = new Logger(WebhookDeliverer.name);

  constructor(
    private readonly policy: WebhookUrlPolicy,
    private readonly tasks: TaskRepository,
    private readonly config: AppConfig,
  ) {}

  /** `attempt` counts from 1. Resolves when the receiver answered 2xx. */
  async deliver(job: WebhookJob, attempt: number): Promise<void> {
    const task = await this.tasks.findById(job.taskId);
    if (!task) {
      this.logger.warn(`Webhook ${job.webhookId}: task ${job.taskId} no longer exists; nothing is sent.`);
      return;
    }
    const body = JSON.stringify({ event: job.event, task: toTaskStatus(task) });
    const started = performance.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    let refused = false;
    try {
      if (!this.config.webhookSecret) throw new Error('WEBHOOK_SECRET is not set on this worker.');
      const target = await this.policy.resolve(job.url);
      statusCode = await this.post(target, job.webhookId, body);
      if (statusCode >= 300 && statusCode < 400) {
        error = `The receiver answered ${statusCode} (a redirect); redirects are not followed.`;
      } else if (statusCode < 200 || statusCode >= 300) {
        error = `The receiver answered ${statusCode}.`;
      }
    } catch (failure) {
      refused = failure instanceof WebhookTargetRefused;
      error = refused
        ? `The webhook_url is refused: ${(failure as Error).message}`
        : failure instanceof Error
          ? failure.message
          : String(failure);
    }
    await this.tasks.recordDelivery({
      taskId: job.taskId,
      tenantId: job.tenantId,
      webhookId: job.webhookId,
      event: job.event,
      url: job.url,
      attempt,
      delivered: error === null,
      statusCode,
      error,
      durationMs: Math.round(performance.now() - started),
    });
    if (error === null) return;
    this.logger.warn(`Webhook ${job.webhookId} of task ${job.taskId}, attempt ${attempt}: ${error}`);
    throw refused ? new WebhookRefusedError(error) : new WebhookAttemptFailed(error);
  }

  /** POSTs the signed body to the checked address; answers the status code. */
  private post(target: ResolvedTarget, webhookId: string, body: string): Promise<number> {
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': 'agent-backend-webhooks/1',
      ...webhookHeaders(this.config.webhookSecret, webhookId, timestamp, body),
      // The task's trace goes on at the receiver (`traceparent`, when tracing is on); not part of the signature.
      ...traceCarrier(),
    };
    // Pinned: the connection goes to the address the policy checked, whatever DNS answers now.
    const lookup: LookupFunction = (_hostname, options, callback) => {
      if (options.all) callback(null, [{ address: target.address, family: target.family }]);
      else callback(null, target.address, target.family);
    };
    const send = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const timeoutMs = this.config.webhookTimeoutMs;
    return new Promise<number>((resolve, reject) => {
      const req = send(
        target.url,
        { method: 'POST', headers, lookup, signal: AbortSignal.timeout(timeoutMs) },
        (res: IncomingMessage) => {
          // The answer's body is not needed; drain it so the socket is released.
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', (error: Error) => {
        reject(
          error.name === 'AbortError' || error.name === 'TimeoutError'
            ? new Error(`The receiver did not answer within ${timeoutMs} ms.`)
            : new Error(`The receiver could not be reached: ${error.message}`),
        );
      });
      req.end(body);
    });
  }
}
