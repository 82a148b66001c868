// A conversation's run events in Redis, shared by every instance: numbered, retained for replay, and published to
// the instances whose clients follow the conversation.
//
// Sequence numbers come from one counter per conversation. A run takes the next number for its `run_started` (one
// round trip) and numbers its later events itself: the conversation lock lets one run at a time produce events, and
// each batch sets the counter to its last number. Events are appended in batches (those produced in the same tick,
// one script call that also publishes them), so a streamed answer costs one Redis command per batch, not per delta;
// a run's final event is sent at once, before the run releases its lock.
import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig, RedisService, RunEvent } from '@lib/core';

const streamKey = (conversationId: string) => `agent-backend:run-events:{${conversationId}}`;
const seqKey = (conversationId: string) => `agent-backend:run-seq:{${conversationId}}`;
export const runEventsChannel = (conversationId: string) => `agent-backend:run-events:${conversationId}`;
/** The counter outlives the events by far: numbering never restarts while a conversation is in use. */
const SEQ_TTL_SECONDS = 30 * 86_400;

/** Takes the next number; -1 when the counter is gone and no floor was given (the caller reads one from the database). */
const OPEN = `
local current = redis.call('GET', KEYS[1])
local floor = tonumber(ARGV[1])
if not current then
  if floor < 0 then return -1 end
  current = floor
end
local next = math.max(tonumber(current), floor) + 1
redis.call('SET', KEYS[1], next, 'EX', ARGV[2])
return next`;

/** KEYS: stream, counter, channel. ARGV: min id, stream ttl, counter ttl, published message, last seq, then seq/json pairs. */
const APPEND = `
for i = 6, #ARGV, 2 do
  redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[1], '*', 's', ARGV[i], 'e', ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[5]) then
  redis.call('SET', KEYS[2], ARGV[5], 'EX', ARGV[3])
end
redis.call('PUBLISH', KEYS[3], ARGV[4])
return 1`;

export interface Replay {
  /** The retained events after the requested number, in order. */
  events: RunEvent[];
  /** Some requested events are no longer retained. */
  truncated: boolean;
  /** The conversation's latest number (0: no event yet). */
  lastSeq: number;
}

@Injectable()
export class EventLog {
  private readonly logger = new Logger(EventLog.name);
  /** This process among the instances: published batches carry it, so an instance skips its own. */
  readonly instanceId = randomUUID();
  private readonly pending = new Map<string, RunEvent[]>();
  private scheduled = false;
  /** Batches that could not be appended (Redis away): followers elsewhere missed them. */
  dropped = 0;

  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {}

  /** The number of a new run's first event. `floor` is the database's highest number, used when Redis lost the counter. */
  async open(conversationId: string, floor: () => Promise<number>): Promise<number> {
    const key = seqKey(conversationId);
    const first = Number(await this.redis.client.eval(OPEN, 1, key, -1, SEQ_TTL_SECONDS));
    if (first >= 0) return first;
    return Number(await this.redis.client.eval(OPEN, 1, key, await floor(), SEQ_TTL_SECONDS));
  }

  /** Queues an event for the log; `now` sends what is queued for the conversation at once (a run's last event). */
  append(conversationId: string, event: RunEvent, now = false): void {
    const queued = this.pending.get(conversationId);
    if (queued) queued.push(event);
    else this.pending.set(conversationId, [event]);
    if (now) return this.flush(conversationId);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        for (const id of [...this.pending.keys()]) this.flush(id);
      });
    }
  }

  /** The retained events after `afterSeq`, including those of this process not yet sent. */
  async read(conversationId: string, afterSeq: number): Promise<Replay> {
    // Both taken in the same tick: what is queued here now is sent after this read, so it is in `unsent`.
    const unsent = [...(this.pending.get(conversationId) ?? [])];
    const [entries, counter] = await Promise.all([
      this.redis.client.xrange(streamKey(conversationId), '-', '+'),
      this.redis.client.get(seqKey(conversationId)),
    ]);
    const events: RunEvent[] = [];
    let first: number | undefined;
    let last = Number(counter ?? 0);
    for (const [, fields] of entries) {
      const seq = Number(fields[1]);
      first ??= seq;
      if (seq > last) last = seq;
      if (seq > afterSeq) events.push(JSON.parse(fields[3]) as RunEvent);
    }
    for (const event of unsent) {
      const seq = event.payload.seq;
      first ??= seq;
      if (seq > last) last = seq;
      if (seq > afterSeq && seq > (events.at(-1)?.payload.seq ?? -1)) events.push(event);
    }
    const truncated = afterSeq < last && (first === undefined || first > afterSeq + 1);
    return { events, truncated, lastSeq: last };
  }

  /** The conversation's latest number (0 when none is known). */
  async lastSeq(conversationId: string): Promise<number> {
    const unsent = this.pending.get(conversationId)?.at(-1)?.payload.seq ?? 0;
    return Math.max(unsent, Number((await this.redis.client.get(seqKey(conversationId))) ?? 0));
  }

  private flush(conversationId: string): void {
    const events = this.pending.get(conversationId);
    if (!events?.length) return;
    this.pending.delete(conversationId);
    const retention = this.config.runEventsRetentionSeconds;
    const encoded = events.map((event) => JSON.stringify(event));
    const args: (string | number)[] = [
      Date.now() - retention * 1000,
      retention,
      SEQ_TTL_SECONDS,
      `${this.instanceId}\n[${encoded.join(',')}]`,
      events[events.length - 1].payload.seq,
    ];
    for (let i = 0; i < events.length; i += 1) args.push(events[i].payload.seq, encoded[i]);
    this.redis.client
      .eval(APPEND, 3, streamKey(conversationId), seqKey(conversationId), runEventsChannel(conversationId), ...args)
      .catch((error: Error) => {
        this.dropped += events.length;
        this.logger.warn(`Could not append ${events.length} run events of ${conversationId}: ${error.message}`);
      });
  }
}
