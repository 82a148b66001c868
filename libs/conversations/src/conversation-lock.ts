// One turn at a time per conversation, across every instance: a Redis lease renewed while the turn runs.
import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig, ConversationBusyError, lockConflicts, Metrics, RedisService } from '@lib/core';

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

export interface ConversationLease {
  readonly conversationId: string;
  readonly since: Date;
  release(): Promise<void>;
}

@Injectable()
export class ConversationLock {
  private readonly logger = new Logger(ConversationLock.name);
  private readonly conflicts: ReturnType<typeof lockConflicts>;

  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
    metrics: Metrics,
  ) {
    this.conflicts = lockConflicts(metrics);
  }

  private key(conversationId: string): string {
    return `conversation-lock:${conversationId}`;
  }

  /** When the running turn took the conversation's lock, or undefined when no turn runs. */
  async runningSince(conversationId: string): Promise<Date | undefined> {
    const holder = await this.redis.client.get(this.key(conversationId));
    const startedAt = Number(holder?.split('|')[1]);
    return holder && Number.isFinite(startedAt) ? new Date(startedAt) : undefined;
  }

  /**
   * Takes the conversation's lease or throws ConversationBusyError saying since when the running
   * turn holds it. The lease is renewed at a third of its TTL, so a crashed instance blocks the
   * conversation for at most one TTL.
   */
  async acquire(conversationId: string): Promise<ConversationLease> {
    const ttl = this.config.lockTtlMs;
    const since = new Date();
    const value = `${randomUUID()}|${since.getTime()}`;
    const key = this.key(conversationId);
    const taken = await this.redis.client.set(key, value, 'PX', ttl, 'NX');
    if (taken !== 'OK') {
      this.conflicts.inc();
      const holder = await this.redis.client.get(key);
      const startedAt = Number(holder?.split('|')[1]);
      throw new ConversationBusyError(
        conversationId,
        new Date(Number.isFinite(startedAt) ? startedAt : Date.now()),
      );
    }
    const timer = setInterval(
      () => {
        this.redis.client.eval(RENEW, 1, key, value, ttl).catch((error: Error) => {
          this.logger.warn(`Could not renew the lock of conversation ${conversationId}: ${error.message}`);
        });
      },
      Math.floor(ttl / 3),
    );
    timer.unref();
    let released = false;
    return {
      conversationId,
      since,
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        await this.redis.client.eval(RELEASE, 1, key, value).catch((error: Error) => {
          this.logger.warn(`Could not release the lock of conversation ${conversationId}: ${error.message}`);
        });
      },
    };
  }
}
