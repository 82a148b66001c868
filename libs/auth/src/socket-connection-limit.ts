// The open sockets of each API key, counted in Redis across instances: one sorted set per key of leased slots.
import { Injectable, Logger } from '@nestjs/common';
import { AppConfig, RedisService } from '@lib/core';

/**
 * KEYS[1] = the key's set (member: socket id, score: lease end in Redis time); ARGV = limit, lease ms, socket id.
 * Drops lapsed leases (sockets of a crashed instance), then admits the socket if a slot is free. Returns 1 or 0.
 * Redis time (not each instance's clock) keeps the leases of every instance comparable.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/** KEYS[1] = the key's set; ARGV = lease ms, then the socket ids this instance still holds open. */
const RENEW = `
local t = redis.call('TIME')
local until_ = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], until_, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`;

const WARN_EVERY_MS = 10_000;

@Injectable()
export class SocketConnectionLimit {
  private readonly logger = new Logger(SocketConnectionLimit.name);
  private lastWarning = 0;

  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {}

  /** False when the cap is off: then nothing is counted. */
  get enabled(): boolean {
    return this.config.socketMaxConnectionsPerKey > 0;
  }

  get limit(): number {
    return this.config.socketMaxConnectionsPerKey;
  }

  /**
   * Takes a slot of the key for the socket, leased for `leaseMs` (renew() keeps it); false when the key already
   * holds its maximum. Fails open: while Redis fails, connections are not counted (logged).
   */
  async reserve(apiKeyId: string, socketId: string, leaseMs: number): Promise<boolean> {
    if (!this.enabled) return true;
    try {
      const admitted = await this.redis.client.eval(
        RESERVE,
        1,
        setOf(apiKeyId),
        this.limit,
        Math.round(leaseMs),
        socketId,
      );
      return admitted === 1;
    } catch (error) {
      this.warn(`Socket connections are not counted while Redis fails: ${(error as Error).message}`);
      return true;
    }
  }

  /** Gives the socket's slot back (it disconnected). */
  async release(apiKeyId: string, socketId: string): Promise<void> {
    if (!this.enabled) return;
    await this.redis.client
      .zrem(setOf(apiKeyId), socketId)
      .catch((error: Error) =>
        this.warn(`Could not release a socket's slot (its lease will lapse): ${error.message}`),
      );
  }

  /**
   * Extends the leases of the sockets this instance holds open, by key. Sent at once (before any later release),
   * so a socket released after this call never gets its slot back.
   */
  renew(socketsByKey: ReadonlyMap<string, readonly string[]>, leaseMs: number): Promise<void> {
    if (!this.enabled || socketsByKey.size === 0) return Promise.resolve();
    const pipeline = this.redis.client.pipeline();
    for (const [apiKeyId, socketIds] of socketsByKey) {
      if (socketIds.length) pipeline.eval(RENEW, 1, setOf(apiKeyId), Math.round(leaseMs), ...socketIds);
    }
    return pipeline.exec().then(
      (results) => {
        const failed = results?.find(([error]) => error)?.[0];
        if (failed) this.warn(`Could not renew the sockets' slots: ${failed.message}`);
      },
      (error: Error) => this.warn(`Could not renew the sockets' slots: ${error.message}`),
    );
  }

  private warn(message: string): void {
    if (Date.now() - this.lastWarning < WARN_EVERY_MS) return;
    this.lastWarning = Date.now();
    this.logger.warn(message);
  }
}

/** The hash tag keeps a key's set in one Redis Cluster slot. */
function setOf(apiKeyId: string): string {
  return `socket-connections:{${apiKeyId}}`;
}
