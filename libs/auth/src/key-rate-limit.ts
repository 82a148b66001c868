// The per-key request budget outside HTTP: a socket event spends from the same Redis counter as a REST request.
import { Injectable } from '@nestjs/common';
import { AppConfig, RateLimitedError } from '@lib/core';
import { RedisThrottlerStorage } from './redis-throttler-storage';

/** The throttler whose counters every transport shares (its default name keeps the standard REST headers). */
export const RATE_LIMIT_THROTTLER = 'default';

/** Who is counted: an API key, or the client address of a public route. */
export function rateLimitTracker(caller: { apiKeyId: string } | { ip: string }): string {
  return 'apiKeyId' in caller ? `key:${caller.apiKeyId}` : `ip:${caller.ip}`;
}

/** The counter's name for a tracker: one budget per caller for the whole API, not one per route. */
export function rateLimitCounter(tracker: string, throttler = RATE_LIMIT_THROTTLER): string {
  return `${throttler}:${tracker}`;
}

/** The refusal of a caller over its budget, worded the same on every transport. */
export function rateLimitedError(
  limit: number,
  windowMs: number,
  retryAfterSeconds: number,
): RateLimitedError {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return new RateLimitedError(
    `Too many requests: this API key may make ${limit} requests per ${Math.round(windowMs / 1000)} s; retry in ${seconds} s.`,
    seconds,
  );
}

@Injectable()
export class KeyRateLimit {
  constructor(
    private readonly storage: RedisThrottlerStorage,
    private readonly config: AppConfig,
  ) {}

  /** Counts one request of the key; RateLimitedError (with its retry delay) once the window's budget is spent. */
  async consume(apiKeyId: string): Promise<void> {
    const limit = this.config.rateLimitRequests;
    if (limit === 0) return;
    const windowMs = this.config.rateLimitWindowSeconds * 1000;
    const record = await this.storage.increment(
      rateLimitCounter(rateLimitTracker({ apiKeyId })),
      windowMs,
      limit,
      0,
      RATE_LIMIT_THROTTLER,
    );
    if (record.isBlocked) throw rateLimitedError(limit, windowMs, record.timeToBlockExpire);
  }
}
