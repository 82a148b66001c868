// Rate limiting per API key (per client IP on public routes), counted in Redis so the limit holds across instances.
import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail, type ThrottlerModuleOptions } from '@nestjs/throttler';
import {
  RATE_LIMIT_THROTTLER,
  rateLimitCounter,
  rateLimitedError,
  rateLimitTracker,
  type AuthenticatedRequest,
  type RedisThrottlerStorage,
} from '@lib/auth';
import { AppConfig } from '@lib/core';

export function throttlerOptions(config: AppConfig, storage: RedisThrottlerStorage): ThrottlerModuleOptions {
  return {
    storage,
    throttlers: [
      {
        // The default name keeps the standard headers: X-RateLimit-Limit/-Remaining/-Reset and Retry-After.
        // Socket events spend from the same counters (KeyRateLimit).
        name: RATE_LIMIT_THROTTLER,
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
    if (principal?.apiKeyId) return rateLimitTracker({ apiKeyId: principal.apiKeyId });
    return rateLimitTracker({ ip: String(req.ip) });
  }

  /** One budget per key for the whole API, not one per route. */
  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return rateLimitCounter(tracker, name);
  }

  protected override async throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    throw rateLimitedError(detail.limit, detail.ttl, detail.timeToBlockExpire);
  }
}
