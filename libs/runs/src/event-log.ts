// A conversation's run events in Redis, shared by every instance: numbered, retained for replay, and published to
// the instances whose clients follow the conversation.
//
// Sequence numbers come from one counter per conversation. A run takes the next number for its `run_started` (one
// round trip) and numbers its later events itself: the conversation lock lets one run at a time produce events.
// Events are appended in batches — those produced within RUN_EVENTS_BATCH_MS, as one stream entry, by one script call that
// also publishes them — so a streamed answer costs one Redis call per batch, not per delta. A run's last batch is
// sent at once, before the run releases its lock, and sets the counter to its last number; a run that never sent
// it (its process died) leaves its last number in the log, which the next run's OPEN reads too.
import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig, RedisService, RunEvent } from '@lib/core';

const streamKey = (conversationId: string) => `agent-backend:run-events:{${conversationId}}`;
const seqKey = (conversationId: string) => `agent-backend:run-seq:{${conversationId}}`;
export const runEventsChannel = (conversationId: string) => `agent-backend:run-events:${conversationId}`;
/** The counter outlives the events by far: numbering never restarts while a conversation is in use. */
const SEQ_TTL_SECONDS = 30 * 86_400;

/**
 * Takes the next number: one past the highest of the counter, the log's last event and `floor`; -1 when neither the
 * counter nor the log is there and no floor was given (the caller reads one from the database).
 * KEYS: counter, stream. ARGV: floor, counter ttl, stream ttl.
 */
const OPEN = `
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
-- A log that cannot be read (not a stream) leaves the numbering to the counter: the run still goes on.
local tail = redis.pcall('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local last = type(tail) == 'table' and not tail.err and tail[1] or nil
if last then current = math.max(current, tonumber(last[2][4])) end
local floor = tonumber(ARGV[1])
if current < 0 and floor < 0 then return -1 end
local next = math.max(current, floor) + 1
redis.call('SET', KEYS[1], next, 'EX', ARGV[2])
if last then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
return next`;

/**
 * One batch: one stream entry (first and last number, the events as a JSON array), published at once.
 * KEYS: stream, counter, channel. ARGV: min id, instance id, first seq, last seq, events, stream ttl (0: leave the
 * expiry as it is), counter ttl (0: a run's batch before its last, which leaves the counter to OPEN and the log).
 */
const APPEND = `
redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[1], '*', 'f', ARGV[3], 'l', ARGV[4], 'e', ARGV[5])
if ARGV[6] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[6]) end
if ARGV[7] ~= '0' then redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[7]) end
redis.call('PUBLISH', KEYS[3], ARGV[2] .. '\\n' .. ARGV[5])
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
  /** When each conversation's log had its expiry renewed last (while a run of this process produces events). */
  private readonly expiredAt = new Map<string, number>();
  private scheduled = false;
  /** Batches that could not be appended (Redis away): followers elsewhere missed them. */
  dropped = 0;

  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {}

  /**
   * The number of a new run's first event. `floor` is the database's highest number, read only when Redis lost both
   * the counter and the log (a number: known already, e.g. 0 for a conversation created by this run).
   */
  async open(conversationId: string, floor: number | (() => Promise<number>)): Promise<number> {
    const keys = [seqKey(conversationId), streamKey(conversationId)] as const;
    const retention = this.config.runEventsRetentionSeconds;
    this.expiredAt.set(conversationId, Date.now());
    const known = typeof floor === 'number' ? floor : -1;
    const first = Number(await this.redis.client.eval(OPEN, 2, ...keys, known, SEQ_TTL_SECONDS, retention));
    if (first >= 0 || typeof floor === 'number') return first;
    return Number(await this.redis.client.eval(OPEN, 2, ...keys, await floor(), SEQ_TTL_SECONDS, retention));
  }

  /**
   * open() for a conversation this run has just created: nobody can have numbered an event of it, so its first
   * number is 1, known without waiting. The counter is still set (the OPEN script, sent now and ahead of the run's
   * first batch on the same connection), so that a run that dies before its first batch is appended leaves its
   * number taken for the execution that resumes it.
   */
  openNew(conversationId: string): number {
    const keys = [seqKey(conversationId), streamKey(conversationId)] as const;
    this.expiredAt.set(conversationId, Date.now());
    this.redis.client
      .eval(OPEN, 2, ...keys, 0, SEQ_TTL_SECONDS, this.config.runEventsRetentionSeconds)
      .catch((error: Error) =>
        this.logger.warn(`Could not number the first run of ${conversationId}: ${error.message}`),
      );
    return 1;
  }

  /** Queues an event for the log; `now` sends what is queued for the conversation at once (a run's last event). */
  append(conversationId: string, event: RunEvent, now = false): void {
    const queued = this.pending.get(conversationId);
    if (queued) queued.push(event);
    else this.pending.set(conversationId, [event]);
    if (now) return this.flush(conversationId, true);
    if (!this.scheduled) {
      this.scheduled = true;
      // Events of the next few milliseconds go in the same batch: followers here already have them, followers
      // elsewhere get them that much later, and a resume reads the unsent ones from `pending`.
      setTimeout(() => {
        this.scheduled = false;
        for (const id of [...this.pending.keys()]) this.flush(id);
      }, this.config.runEventsBatchMs).unref();
    }
  }

  /** Sends what is queued for the conversation now (a run that stops without a last event: handed back). */
  flushPending(conversationId: string): void {
    this.flush(conversationId);
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
      const batchFirst = Number(fields[1]);
      const batchLast = Number(fields[3]);
      first ??= batchFirst;
      if (batchLast > last) last = batchLast;
      if (batchLast <= afterSeq) continue;
      for (const event of JSON.parse(fields[5]) as RunEvent[])
        if (event.payload.seq > afterSeq) events.push(event);
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

  /** The conversation's latest number (0 when none is known): the counter, the log's last batch, or what is unsent here. */
  async lastSeq(conversationId: string): Promise<number> {
    const unsent = this.pending.get(conversationId)?.at(-1)?.payload.seq ?? 0;
    const [counter, tail] = await Promise.all([
      this.redis.client.get(seqKey(conversationId)),
      this.redis.client.xrevrange(streamKey(conversationId), '+', '-', 'COUNT', 1).catch(() => []),
    ]);
    return Math.max(unsent, Number(counter ?? 0), Number(tail[0]?.[1][3] ?? 0));
  }

  private flush(conversationId: string, last = false): void {
    const events = this.pending.get(conversationId);
    if (!events?.length) return;
    this.pending.delete(conversationId);
    const retention = this.config.runEventsRetentionSeconds;
    // The log's expiry is renewed when a run opens or ends, and in between once per half retention: a batch
    // seldom pays for it.
    const now = Date.now();
    const renew = last || now - (this.expiredAt.get(conversationId) ?? 0) > (retention * 1000) / 2;
    if (renew) this.expiredAt.set(conversationId, now);
    if (last) this.expiredAt.delete(conversationId);
    const encoded = `[${events.map((event) => JSON.stringify(event)).join(',')}]`;
    this.redis.client
      .eval(
        APPEND,
        3,
        streamKey(conversationId),
        seqKey(conversationId),
        runEventsChannel(conversationId),
        now - retention * 1000,
        this.instanceId,
        events[0].payload.seq,
        events[events.length - 1].payload.seq,
        encoded,
        renew ? retention : 0,
        last ? SEQ_TTL_SECONDS : 0,
      )
      .catch((error: Error) => {
        this.dropped += events.length;
        this.logger.warn(
          `Could not append ${events.length} run events of ${conversationId}: ${error.message}`,
        );
      });
  }
}
