// Makes one delivery attempt: re-checks where the URL points, connects to exactly the address it checked, never
// follows a redirect, and answers what happened (status, Retry-After, or why no answer came). Whether to retry is
// the retry policy's call, not this class's.
import { Injectable } from '@nestjs/common';
import { request as httpRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { AppConfig, Clock, traceCarrier, webhookHeaders } from '@lib/core';
import {
  OutboundHostUnresolved,
  OutboundTargetRefused,
  OutboundUrlPolicy,
  ResolvedTarget,
} from './outbound-url-policy';
import type { AttemptOutcome } from './retry-policy';

export interface AttemptReport extends AttemptOutcome {
  /** A sentence for the attempt log; null when the receiver answered 2xx. */
  error: string | null;
  durationMs: number;
  at: Date;
}

class NoAnswer extends Error {
  constructor(
    message: string,
    readonly failure: 'network' | 'timeout',
  ) {
    super(message);
  }
}

@Injectable()
export class WebhookDeliverer {
  constructor(
    private readonly policy: OutboundUrlPolicy,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async attempt(event: { webhookId: string; url: string; body: string }): Promise<AttemptReport> {
    const at = this.clock.now();
    const started = performance.now();
    const report = (outcome: Omit<AttemptReport, 'durationMs' | 'at'>): AttemptReport => ({
      ...outcome,
      durationMs: Math.round(performance.now() - started),
      at,
    });
    if (!this.config.webhookSecret) {
      return report({
        statusCode: null,
        failure: 'unconfigured',
        error: 'WEBHOOK_SECRET is not set on this process.',
      });
    }
    let target: ResolvedTarget;
    try {
      target = await this.policy.resolve(event.url);
    } catch (error) {
      if (error instanceof OutboundTargetRefused) {
        return report({
          statusCode: null,
          failure: 'refused',
          error: `The URL is refused: ${error.message}`,
        });
      }
      if (error instanceof OutboundHostUnresolved) {
        return report({
          statusCode: null,
          failure: 'unresolved',
          error: `The URL's host did not resolve: ${error.message}`,
        });
      }
      throw error;
    }
    try {
      const { status, retryAfter } = await this.post(target, event.webhookId, event.body);
      let error: string | null = null;
      if (status >= 300 && status < 400)
        error = `The receiver answered ${status} (a redirect); redirects are not followed.`;
      else if (status < 200 || status >= 300) error = `The receiver answered ${status}.`;
      return report({ statusCode: status, failure: null, retryAfter, error });
    } catch (error) {
      if (!(error instanceof NoAnswer)) throw error;
      return report({ statusCode: null, failure: error.failure, error: error.message });
    }
  }

  /** POSTs the signed body to the checked address; answers the status code and Retry-After. */
  private post(
    target: ResolvedTarget,
    webhookId: string,
    body: string,
  ): Promise<{ status: number; retryAfter: string | null }> {
    const timestamp = Math.floor(this.clock.now().getTime() / 1000);
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
    return new Promise((resolve, reject) => {
      const req = send(
        target.url,
        { method: 'POST', headers, lookup, signal: AbortSignal.timeout(timeoutMs) },
        (res: IncomingMessage) => {
          const answer = () => {
            const retryAfter = res.headers['retry-after'];
            resolve({
              status: res.statusCode ?? 0,
              retryAfter: typeof retryAfter === 'string' ? retryAfter : null,
            });
          };
          // The answer's body is not needed; drain it so the socket is released.
          res.resume();
          res.on('end', answer);
          res.on('error', answer);
        },
      );
      req.on('error', (error: Error) => {
        reject(
          error.name === 'AbortError' || error.name === 'TimeoutError'
            ? new NoAnswer(`The receiver did not answer within ${timeoutMs} ms.`, 'timeout')
            : new NoAnswer(`The receiver could not be reached: ${error.message}`, 'network'),
        );
      });
      req.end(body);
    });
  }
}
