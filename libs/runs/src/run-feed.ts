// The followers of conversations on this instance (sockets, SSE streams, callers waiting for a run) and how run
// events reach them: a run of this process hands its events over directly; runs elsewhere arrive through the
// conversation's Redis channel, which this instance listens to while some follower here needs it.
//
// Every follower remembers the last sequence number it got, so an event that arrives twice (replayed and live,
// or through two paths) is delivered once, and a resumed follower gets exactly what it missed: it is registered
// and subscribed first, then the retained events are read, then what arrived meanwhile is delivered.
import { Injectable, Logger } from '@nestjs/common';
import { RedisSubscriber, RunEvent } from '@lib/core';
import { EventLog, runEventsChannel } from './event-log';

export interface RunFollower {
  /** Events numbered up to this one are not delivered (again). */
  lastSeq: number;
  /** Only this run's events, when set. */
  readonly runId?: string;
  /** Delivers `thinking` events too (clients opt in; off by default). */
  thinking?: boolean;
  deliver(event: RunEvent): void;
}

/**
 * Delivers the event unless the follower already has it, it belongs to another run than the follower's, or it is
 * a `thinking` event the follower did not ask for.
 */
export function offer(follower: RunFollower, event: RunEvent): void {
  if (event.payload.seq <= follower.lastSeq) return;
  if (follower.runId !== undefined && event.payload.run_id !== follower.runId) return;
  follower.lastSeq = event.payload.seq;
  if (event.name === 'thinking' && !follower.thinking) return;
  follower.deliver(event);
}

interface Entry {
  follower: RunFollower;
  /** Events held back while the follower's replay is read. */
  held: RunEvent[] | null;
  remote: boolean;
}

export interface Following {
  lastSeq: number;
  replayed: number;
  truncated: boolean;
  /** Delivers the replay, then what arrived meanwhile, then live events as they come. */
  start(): void;
}

@Injectable()
export class RunFeed {
  private readonly logger = new Logger(RunFeed.name);
  private readonly entries = new Map<string, Map<RunFollower, Entry>>();
  /** Conversations whose channel this instance listens to, by the number of followers that need it. */
  private readonly channels = new Map<string, { users: number; ready: Promise<void> }>();

  constructor(
    private readonly log: EventLog,
    private readonly subscriber: RedisSubscriber,
  ) {}

  /** A run of this process produced an event: its followers here get it now, the log (and other instances) next. */
  publish(conversationId: string, event: RunEvent, final = false): void {
    this.dispatch(conversationId, [event]);
    this.log.append(conversationId, event, final);
  }

  /**
   * A run's last event: appended at once, then `settle` (the run lets its conversation go, on the same Redis
   * connection, so after the append), then delivered here — a caller that hears of the end can start the next run.
   */
  async publishLast(conversationId: string, event: RunEvent, settle: () => Promise<void>): Promise<void> {
    this.log.append(conversationId, event, true);
    try {
      await settle();
    } finally {
      this.dispatch(conversationId, [event]);
    }
  }

  /**
   * Follows a conversation from now on (`afterSeq` omitted) or from after `afterSeq` (a resume). `remote: false`
   * is for a follower of a run of this very process, which needs no Redis channel.
   */
  async follow(
    conversationId: string,
    follower: RunFollower,
    { afterSeq, remote = true }: { afterSeq?: number; remote?: boolean } = {},
  ): Promise<Following> {
    const entry: Entry = { follower, held: [], remote };
    this.register(conversationId, entry);
    try {
      if (remote) await this.listen(conversationId);
      if (afterSeq === undefined) {
        const lastSeq = remote ? await this.log.lastSeq(conversationId) : 0;
        return { lastSeq, replayed: 0, truncated: false, start: () => this.release(entry, []) };
      }
      follower.lastSeq = Math.max(follower.lastSeq, afterSeq);
      const replay = await this.log.read(conversationId, afterSeq);
      return {
        lastSeq: replay.lastSeq,
        replayed: replay.events.length,
        truncated: replay.truncated,
        start: () => this.release(entry, replay.events),
      };
    } catch (error) {
      this.unfollow(conversationId, follower);
      throw error;
    }
  }

  /**
   * An event only for the followers here of that very run (its caller), not published: the end of an execution
   * that lost its run to a newer one, which publishes the run's events from then on.
   */
  deliverHere(conversationId: string, runId: string, event: RunEvent): void {
    for (const entry of [...(this.entries.get(conversationId)?.values() ?? [])]) {
      if (entry.follower.runId === runId && !entry.held) offer(entry.follower, event);
    }
  }

  /** Registers a follower of a run of this process before its first event: no replay, no Redis. */
  attach(conversationId: string, follower: RunFollower): void {
    this.register(conversationId, { follower, held: null, remote: false });
  }

  unfollow(conversationId: string, follower: RunFollower): void {
    const followers = this.entries.get(conversationId);
    const entry = followers?.get(follower);
    if (!followers || !entry) return;
    followers.delete(follower);
    if (!followers.size) this.entries.delete(conversationId);
    if (entry.remote) this.unlisten(conversationId);
  }

  private register(conversationId: string, entry: Entry): void {
    let followers = this.entries.get(conversationId);
    if (!followers) this.entries.set(conversationId, (followers = new Map()));
    followers.set(entry.follower, entry);
  }

  private release(entry: Entry, replay: RunEvent[]): void {
    const held = entry.held ?? [];
    entry.held = null;
    for (const event of replay) offer(entry.follower, event);
    for (const event of held) offer(entry.follower, event);
  }

  private dispatch(conversationId: string, events: RunEvent[]): void {
    const followers = this.entries.get(conversationId);
    if (!followers) return;
    for (const entry of [...followers.values()]) {
      for (const event of events) {
        if (entry.held) entry.held.push(event);
        else offer(entry.follower, event);
      }
    }
  }

  private listen(conversationId: string): Promise<void> {
    const channel = this.channels.get(conversationId);
    if (channel) {
      channel.users += 1;
      return channel.ready;
    }
    const ready = this.subscriber.subscribe(runEventsChannel(conversationId), (message) =>
      this.onMessage(conversationId, message),
    );
    this.channels.set(conversationId, { users: 1, ready });
    ready.catch(() => this.unlisten(conversationId));
    return ready;
  }

  private unlisten(conversationId: string): void {
    const channel = this.channels.get(conversationId);
    if (!channel) return;
    channel.users -= 1;
    if (channel.users > 0) return;
    this.channels.delete(conversationId);
    this.subscriber.unsubscribe(runEventsChannel(conversationId)).catch((error: Error) => {
      this.logger.warn(`Could not stop listening to conversation ${conversationId}: ${error.message}`);
    });
  }

  private onMessage(conversationId: string, message: string): void {
    const newline = message.indexOf('\n');
    // This process's own batches were delivered here when they were produced.
    if (newline < 0 || message.slice(0, newline) === this.log.instanceId) return;
    let events: RunEvent[];
    try {
      events = JSON.parse(message.slice(newline + 1)) as RunEvent[];
    } catch {
      return;
    }
    this.dispatch(conversationId, events);
  }
}
