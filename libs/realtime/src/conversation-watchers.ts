// Which conversations some socket follows, so a turn nobody watches publishes nothing to Redis.
//
// A socket that joins a conversation's room is added to the conversation's watcher set in Redis, under its
// instance. A turn looks the set up once when it starts (after taking the conversation's lock): followers on this
// instance only are served by a local emit, followers elsewhere through Redis. A socket that joins while a turn
// runs on another instance asks that instance, over Redis, to publish, and is acknowledged only once it confirmed —
// so a follower gets every event after its join's acknowledgement, whichever instance runs the turn.
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { RedisService, RedisSubscriber } from '@lib/core';

const NOTICE_CHANNEL = 'agent-backend:turn-watch';
const REPLY_CHANNEL_PREFIX = 'agent-backend:turn-watch-reply:';
const watchersKey = (conversationId: string) => `agent-backend:watchers:${conversationId}`;
/** A watcher set outlives its sockets at most this long (a process that died without removing them). */
const WATCHERS_TTL_SECONDS = 24 * 60 * 60;
/** How long a join waits for the instance running the turn to confirm. */
const CONFIRM_TIMEOUT_MS = 1_000;

/** A running turn's view of who follows it; both only ever turn true. */
export interface TurnWatch {
  /** Some socket of this instance follows the conversation. */
  readonly local: boolean;
  /** Some socket of another instance (or one that cannot be told apart) follows it. */
  readonly remote: boolean;
  release(): void;
}

interface Followers {
  local: boolean;
  remote: boolean;
}

interface Notice {
  conversation_id: string;
  reply_to: string;
  id: string;
}

@Injectable()
export class ConversationWatchers implements OnModuleInit {
  private readonly logger = new Logger(ConversationWatchers.name);
  /** The turns running in this process, by conversation (one each: the conversation lock). */
  private readonly running = new Map<string, Followers>();
  /** This process among the instances: the prefix of its sockets in the watcher sets. */
  private readonly instanceId = randomUUID();
  private readonly replyChannel = `${REPLY_CHANNEL_PREFIX}${this.instanceId}`;
  private readonly waiting = new Map<string, () => void>();

  constructor(
    private readonly redis: RedisService,
    private readonly subscriber: RedisSubscriber,
  ) {}

  onModuleInit(): void {
    // Not awaited, like the cancellations: until subscribed, joins wait out the confirmation timeout.
    const subscribed = Promise.all([
      this.subscriber.subscribe(NOTICE_CHANNEL, (message) => this.onNotice(message)),
      this.subscriber.subscribe(this.replyChannel, (id) => this.waiting.get(id)?.()),
    ]);
    subscribed.catch((error: Error) => {
      this.logger.warn(`Could not subscribe to watch notices: ${error.message}`);
    });
  }

  /**
   * Tracks a turn that holds its conversation's lock. Registered before the watcher set is read, so a join that
   * lands in between is not missed: either the set shows it or its notice finds this entry.
   */
  async track(conversationId: string, known: { followedHere: boolean; isNew: boolean }): Promise<TurnWatch> {
    const entry: Followers = { local: known.followedHere, remote: false };
    this.running.set(conversationId, entry);
    // A conversation this turn created has no followers yet: its id reaches its client only with the turn's first
    // event or acknowledgement, after this entry exists, so a later join finds it here.
    if (!known.isNew) {
      try {
        const mine = `${this.instanceId}/`;
        for (const member of await this.redis.client.smembers(watchersKey(conversationId))) {
          if (member.startsWith(mine)) entry.local = true;
          else entry.remote = true;
        }
      } catch {
        // Unknown: publish through Redis, which reaches followers wherever they are.
        entry.remote = true;
      }
    }
    return {
      get local() {
        return entry.local;
      },
      get remote() {
        return entry.remote;
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
    await this.redis.client
      .multi()
      .sadd(key, `${this.instanceId}/${socketId}`)
      .expire(key, WATCHERS_TTL_SECONDS)
      .exec();
    if (!turnRunning) return;
    const here = this.running.get(conversationId);
    if (here) {
      here.local = true;
      return;
    }
    const id = randomUUID();
    const confirmed = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve();
      }, CONFIRM_TIMEOUT_MS);
      timer.unref();
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
    for (const conversationId of ids)
      batch.srem(watchersKey(conversationId), `${this.instanceId}/${socketId}`);
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
    entry.remote = true;
    this.redis.client.publish(notice.reply_to, notice.id).catch((error: Error) => {
      this.logger.warn(`Could not confirm a watch notice: ${error.message}`);
    });
  }
}
