// Which conversations some socket follows, so a turn nobody watches publishes nothing to Redis.
//
// A socket that joins a conversation's room is added to the conversation's watcher set in Redis. A turn looks the
// set up once when it starts (after taking the conversation's lock); a socket that joins while a turn runs asks the
// instance running it, over Redis, to start publishing, and is acknowledged only once that instance confirmed —
// so a follower gets every event after its join's acknowledgement, whichever instance runs the turn.
import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { AppConfig, RedisService } from '@lib/core';

const NOTICE_CHANNEL = 'agent-backend:turn-watch';
const REPLY_CHANNEL_PREFIX = 'agent-backend:turn-watch-reply:';
const watchersKey = (conversationId: string) => `agent-backend:watchers:${conversationId}`;
/** A watcher set outlives its sockets at most this long (a process that died without removing them). */
const WATCHERS_TTL_SECONDS = 24 * 60 * 60;
/** How long a join waits for the instance running the turn to confirm. */
const CONFIRM_TIMEOUT_MS = 1_000;

/** A running turn's view of whether anyone follows it. */
export interface TurnWatch {
  readonly watched: boolean;
  release(): void;
}

interface Notice {
  conversation_id: string;
  reply_to: string;
  id: string;
}

@Injectable()
export class ConversationWatchers implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ConversationWatchers.name);
  /** The turns running in this process, by conversation (one each: the conversation lock). */
  private readonly running = new Map<string, { watched: boolean }>();
  private readonly replyChannel = `${REPLY_CHANNEL_PREFIX}${randomUUID()}`;
  private readonly waiting = new Map<string, () => void>();
  private subscriber: Redis | undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {}

  onModuleInit(): void {
    this.subscriber = new Redis(this.config.redisUrl, { maxRetriesPerRequest: null });
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.replyChannel) this.waiting.get(message)?.();
      else this.onNotice(message);
    });
    this.subscriber.subscribe(NOTICE_CHANNEL, this.replyChannel).catch((error: Error) => {
      this.logger.warn(`Could not subscribe to watch notices: ${error.message}`);
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.subscriber?.disconnect();
  }

  /**
   * Tracks a turn that holds its conversation's lock. Registered before the watcher set is read, so a join that
   * lands in between is not missed: either the set shows it or its notice finds this entry.
   */
  async track(conversationId: string, known: { watched: boolean; isNew: boolean }): Promise<TurnWatch> {
    const entry = { watched: known.watched };
    this.running.set(conversationId, entry);
    // A conversation this turn created cannot have been joined before it existed.
    if (!entry.watched && !known.isNew) {
      try {
        if ((await this.redis.client.exists(watchersKey(conversationId))) > 0) entry.watched = true;
      } catch {
        // Unknown: publish, which is what followers need if there are any.
        entry.watched = true;
      }
    }
    return {
      get watched() {
        return entry.watched;
      },
      release: () => {
        if (this.running.get(conversationId) === entry) this.running.delete(conversationId);
      },
    };
  }

  /**
   * A socket follows the conversation from now on. When a turn runs, resolves once the instance running it
   * publishes its events (or after a short wait, when no instance answers: the turn has just ended).
   */
  async watch(socketId: string, conversationId: string, turnRunning: boolean): Promise<void> {
    const key = watchersKey(conversationId);
    await this.redis.client.multi().sadd(key, socketId).expire(key, WATCHERS_TTL_SECONDS).exec();
    if (!turnRunning) return;
    const local = this.running.get(conversationId);
    if (local) {
      local.watched = true;
      return;
    }
    const id = randomUUID();
    const confirmed = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve();
      }, CONFIRM_TIMEOUT_MS);
      this.waiting.set(id, () => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve();
      });
    });
    const notice: Notice = { conversation_id: conversationId, reply_to: this.replyChannel, id };
    await this.redis.client.publish(NOTICE_CHANNEL, JSON.stringify(notice));
    await confirmed;
  }

  /** The socket no longer follows these conversations (leave, disconnect). */
  async unwatch(socketId: string, conversationIds: Iterable<string>): Promise<void> {
    const ids = [...conversationIds];
    if (!ids.length) return;
    const batch = this.redis.client.multi();
    for (const conversationId of ids) batch.srem(watchersKey(conversationId), socketId);
    await batch.exec();
  }

  private onNotice(message: string): void {
    let notice: Notice;
    try {
      notice = JSON.parse(message) as Notice;
    } catch {
      return;
    }
    const entry = this.running.get(notice.conversation_id);
    if (!entry) return;
    entry.watched = true;
    this.redis.client.publish(notice.reply_to, notice.id).catch((error: Error) => {
      this.logger.warn(`Could not confirm a watch notice: ${error.message}`);
    });
  }
}
