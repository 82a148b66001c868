// Rate limiting per API key (per client IP on public routes), counted in Redis so the limit holds across instances.
import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail, type ThrottlerModuleOptions } from '@nestjs/throttler';
import type { AuthenticatedRequest, RedisThrottlerStorage } from '@lib/auth';
import { AppConfig, RateLimitedError } from '@lib/core';

export function throttlerOptions(config: AppConfig, storage: RedisThrottlerStorage): ThrottlerModuleOptions {
  return {
    storage,
    throttlers: [
      {
        // The default name keeps the standard headers: X-RateLimit-Limit/-Remaining/-Reset and Retry-After.
        name: 'default',
        limit: config.rateLimitRequests,
        ttl: config.rateLimitWindowSeconds * 1000,
        // No extra penalty: a caller over the limit may go on when the window ends.
        blockDuration: 0,
      },
    ],
    skipIf: () => config.rateLimitRequests === 0,
  };
}

@Injectable()
export class ApiKeyThrottlerGuard extends ThrottlerGuard {
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return context.getType() !== 'http';
  }

  /** Runs after the API-key guard, so an authenticated request is counted against its key on every route. */
  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const principal = (req as unknown as AuthenticatedRequest).principal;
    if (principal?.apiKeyId) return `key:${principal.apiKeyId}`;
    return `ip:${String(req.ip)}`;
  }

  /** One budget per key for the whole API, not one per route. */
  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return `${name}:${tracker}`;
  }

  protected override async throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const seconds = Math.max(1, detail.timeToBlockExpire);
    throw new RateLimitedError(
      `Too many requests: this API key may make ${detail.limit} requests per ${Math.round(detail.ttl / 1000)} s; retry in ${seconds} s.`,
      seconds,
    );
  }
}
