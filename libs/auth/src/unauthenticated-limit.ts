// A limit per client address on requests that fail authentication, checked before a key is looked up: a client
// cycling through bad keys gets 429 after UNAUTHENTICATED_RATE_LIMIT_REQUESTS of them per window instead of a
// database query for each. Counters live in Redis, so the limit holds across every instance.
import proxyAddr from '@fastify/proxy-addr';
import { Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { AppConfig, RateLimitedError, RedisService } from '@lib/core';

// KEYS[1] the address's counter; ARGV[1] the window in ms. Counts one failure, starting the window with the first.
const COUNT_FAILURE = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

const WARN_EVERY_MS = 10_000;

@Injectable()
export class UnauthenticatedLimit {
  private readonly logger = new Logger(UnauthenticatedLimit.name);
  private lastWarning = 0;
  private readonly trusted: (address: string, hop: number) => boolean;

  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {
    const trust = config.trustProxy;
    this.trusted = typeof trust === 'boolean' ? () => trust : proxyAddr.compile(trust);
  }

  /**
   * The client address of a raw request (a Socket.IO handshake's), read as Fastify reads an HTTP request's:
   * the connection's, or the X-Forwarded-For entry a trusted proxy (TRUST_PROXY) added.
   */
  clientAddress(request: IncomingMessage): string {
    return proxyAddr(request, this.trusted);
  }

  private get limit(): number {
    return this.config.unauthenticatedRateLimitRequests;
  }

  /** Refuses (429 rate_limited) an address that failed authentication too often in the current window. */
  async assertAllowed(address: string): Promise<void> {
    if (this.limit <= 0) return;
    try {
      const key = this.key(address);
      const [count, left] = await Promise.all([this.redis.client.get(key), this.redis.client.pttl(key)]);
      if (Number(count ?? 0) < this.limit) return;
      throw new RateLimitedError(
        'Too many requests without a valid API key from this address; retry after the seconds in Retry-After.',
        Math.max(1, Math.ceil(left / 1000)),
      );
    } catch (error) {
      if (error instanceof RateLimitedError) throw error;
      this.failOpen(error);
    }
  }

  /** Counts a request from this address that failed authentication. */
  async recordFailure(address: string): Promise<void> {
    if (this.limit <= 0) return;
    await this.redis.client
      .eval(COUNT_FAILURE, 1, this.key(address), this.config.rateLimitWindowSeconds * 1000)
      .catch((error: unknown) => this.failOpen(error));
  }

  private key(address: string): string {
    return `rate-limit:unauthenticated:${address}`;
  }

  // As the per-key limit does: a Redis outage suspends limiting rather than failing every request.
  private failOpen(error: unknown): void {
    if (Date.now() - this.lastWarning < WARN_EVERY_MS) return;
    this.lastWarning = Date.now();
    this.logger.warn(
      `The limit on unauthenticated requests is off while Redis fails: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
