// The provider rate limit shared by every API and worker instance: a token bucket per provider key in Redis,
// for requests and tokens per minute, refilled and taken in one atomic script, with a fair queue.
//
// Fairness: a call the buckets cannot serve at once takes a ticket and joins one queue per key pool (a sorted
// set). Only the head of the queue may take from the buckets, whichever key has room; the others wait behind it.
// The queue is ordered by tenant first, arrival second (start-time fair queuing): a ticket's round is one past
// its tenant's previous ticket's, and never before the round being served, so with several tenants waiting
// each gets one call per round, in arrival order within the tenant. A tenant that queues 150 calls at once
// therefore delays another tenant's next call by at most one call per waiting tenant, instead of 150.
// Across instances the order holds the same way. Waiters poll; a waiter that stops polling (a crash, a
// cancelled call) loses its place when its lease runs out, so it can never block the queue.
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { LlmError } from './llm-error';
import type { WindowFill } from './rate-limit-watch';
import { realSleep, Sleeper } from './retry-policy';

export interface RateLimitGrant {
  /** Index, in the candidates given to acquire(), of the key the call must use. */
  index: number;
  /** Settles the token bucket to the tokens the call really used (0 for a call that failed). */
  settle(actualTokens: number): Promise<void>;
}

export abstract class ProviderRateLimiter {
  /**
   * Waits for a request slot and `tokens` on one of `keyIds` (tried in order), in turn with every other
   * waiter (a fair share per `tenant`, arrival order within it); fails with `rate_limited` (carrying a
   * retry-after) when that would take longer than allowed.
   */
  abstract acquire(
    keyIds: string[],
    tokens: number,
    signal?: AbortSignal,
    tenant?: string,
  ): Promise<RateLimitGrant>;
  /** False when `tokens` is ignored (no tokens-per-minute limit): callers need not estimate it. */
  abstract readonly countsTokens: boolean;
  /** A key the provider answered 429: no call uses it for `ms`, on any instance. */
  abstract penalize(keyId: string, ms: number): Promise<void>;
}

/** For the offline model and unit tests: every call goes at once on the first key. */
export class UnlimitedRateLimiter extends ProviderRateLimiter {
  readonly countsTokens = false;
  async acquire(): Promise<RateLimitGrant> {
    return { index: 0, settle: async () => undefined };
  }
  async penalize(): Promise<void> {}
}

export interface RateLimitSettings {
  /** Requests per window (a minute unless windowMs says otherwise); 0: no limit. */
  requestsPerMinute: number;
  tokensPerMinute: number;
  /** A full bucket refills in this long: 60000 for the provider's per-minute limits. */
  windowMs?: number;
  maxWaitMs: number;
  /** Names the queue: the key pool this deployment calls with. */
  poolId: string;
}

/** A waiter that has not polled for this long has gone: its ticket is dropped. */
const LEASE_MS = 5_000;
/** How often a waiter behind the head looks again. */
const QUEUE_POLL_MS = 50;
/** The head sleeps at most this long between tries, well inside its lease. */
const HEAD_SLEEP_MAX_MS = 1_000;
/** A bucket left alone this long is full again anyway; Redis may forget it. */
const BUCKET_TTL_MS = 120_000;
/** No back-off a provider asks for parks a key longer than this. */
const MAX_PENALTY_MS = 300_000;

// KEYS: 1 queue (zset ticket→round·2^32+seq), 2 leases (zset ticket→expiry), 3 ticket counter,
//       4 rounds (hash tenant→its latest round), 5 the round being served, 6.. buckets (hash per key)
// ARGV: 1 ticket, 2 rpm, 3 tpm, 4 tokens wanted, 5 lease ms, 6 bucket ttl ms, 7 refill window ms, 8 tenant
// Returns {1, index, requests used ×1000, tokens used ×1000} granted (what the key's windows hold after this
// call), {0, wait ms} head but no key has room, {-1, position} behind the head.
// Scores are written with %.0f: Redis would turn a Lua number above 1e14 into a string of 14 digits.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ticket = ARGV[1]
local rpm = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local lease = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
local window = tonumber(ARGV[7])
local tenant = ARGV[8]
local ROUND = 4294967296
local function forgetRoundsIfEmpty()
  if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[3], KEYS[4], KEYS[5]) end
end
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('ZREM', KEYS[1], gone)
  redis.call('ZREM', KEYS[2], gone)
end
forgetRoundsIfEmpty()
local function enqueue()
  if not redis.call('ZSCORE', KEYS[1], ticket) then
    local serving = tonumber(redis.call('GET', KEYS[5]) or '0')
    local previous = tonumber(redis.call('HGET', KEYS[4], tenant) or '-1')
    local round = math.max(serving, previous + 1)
    redis.call('HSET', KEYS[4], tenant, string.format('%.0f', round))
    local seq = redis.call('INCR', KEYS[3]) % ROUND
    redis.call('ZADD', KEYS[1], string.format('%.0f', round * ROUND + seq), ticket)
  end
  redis.call('ZADD', KEYS[2], now + lease, ticket)
  for k = 1, 5 do redis.call('PEXPIRE', KEYS[k], lease * 4) end
end
local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if head and head ~= ticket then
  enqueue()
  return {-1, redis.call('ZRANK', KEYS[1], ticket)}
end
local need = want
if tpm > 0 and need > tpm then need = tpm end
local shortest = -1
for i = 6, #KEYS do
  local b = redis.call('HMGET', KEYS[i], 'r', 't', 'at', 'blocked')
  local at = tonumber(b[3]) or now
  local elapsed = math.max(0, now - at)
  local r = tonumber(b[1]) or rpm
  local tk = tonumber(b[2]) or tpm
  if rpm > 0 then r = math.min(rpm, r + elapsed * rpm / window) end
  if tpm > 0 then tk = math.min(tpm, tk + elapsed * tpm / window) end
  local wait = 0
  local blocked = tonumber(b[4]) or 0
  if blocked > now then wait = blocked - now end
  if rpm > 0 and r < 1 then wait = math.max(wait, math.ceil((1 - r) * window / rpm)) end
  if tpm > 0 and tk < need then wait = math.max(wait, math.ceil((need - tk) * window / tpm)) end
  if wait <= 0 then
    if rpm > 0 then r = r - 1 end
    if tpm > 0 then tk = tk - need end
    redis.call('HSET', KEYS[i], 'r', tostring(r), 't', tostring(tk), 'at', now)
    redis.call('PEXPIRE', KEYS[i], math.max(ttl, blocked - now + 1000))
    local score = redis.call('ZSCORE', KEYS[1], ticket)
    if score then
      redis.call('SET', KEYS[5], string.format('%.0f', math.floor(tonumber(score) / ROUND)), 'PX', lease * 4)
    end
    redis.call('ZREM', KEYS[1], ticket)
    redis.call('ZREM', KEYS[2], ticket)
    forgetRoundsIfEmpty()
    return {1, i - 6, math.floor((rpm - r) * 1000), math.floor((tpm - tk) * 1000)}
  end
  if shortest < 0 or wait < shortest then shortest = wait end
end
enqueue()
return {0, shortest}
`;

// With no request or token limit, only the back-offs of keys the provider answered 429 matter: no queue, no
// buckets, one read per candidate key. KEYS: the buckets. Returns {1, index} or {0, wait ms} (every key parked).
const ACQUIRE_UNLIMITED = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local shortest = -1
for i = 1, #KEYS do
  local blocked = tonumber(redis.call('HGET', KEYS[i], 'blocked')) or 0
  if blocked <= now then return {1, i - 1} end
  if shortest < 0 or blocked - now < shortest then shortest = blocked - now end
end
return {0, shortest}
`;

// How full each bucket is now (refilled to this moment, nothing taken). KEYS: the buckets. ARGV: 1 rpm, 2 tpm,
// 3 refill window ms. Returns, per key, requests used ×1000 and tokens used ×1000.
const FILLS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local out = {}
for i = 1, #KEYS do
  local b = redis.call('HMGET', KEYS[i], 'r', 't', 'at')
  local elapsed = math.max(0, now - (tonumber(b[3]) or now))
  local r = tonumber(b[1]) or rpm
  local tk = tonumber(b[2]) or tpm
  if rpm > 0 then r = math.min(rpm, r + elapsed * rpm / window) end
  if tpm > 0 then tk = math.min(tpm, tk + elapsed * tpm / window) end
  out[#out + 1] = math.floor((rpm - r) * 1000)
  out[#out + 1] = math.floor((tpm - tk) * 1000)
end
return out
`;

// KEYS: 1 bucket. ARGV: 1 tokens to give back (negative: the call used more than it took), 2 tpm.
const SETTLE = `
local tpm = tonumber(ARGV[2])
if tpm <= 0 then return 0 end
local tk = tonumber(redis.call('HGET', KEYS[1], 't'))
if not tk then return 0 end
tk = math.max(-tpm, math.min(tpm, tk + tonumber(ARGV[1])))
redis.call('HSET', KEYS[1], 't', tostring(tk))
return 1
`;

// KEYS: 1 bucket. ARGV: 1 back-off ms, 2 bucket ttl ms.
const PENALIZE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked')) or 0
if until_ms > blocked then redis.call('HSET', KEYS[1], 'blocked', until_ms) end
redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[2]), until_ms - now + 1000))
return 1
`;

export class RedisRateLimiter extends ProviderRateLimiter {
  private readonly logger = new Logger('ProviderRateLimiter');
  private lastFailureLog = 0;

  constructor(
    private readonly redis: Redis,
    private readonly settings: RateLimitSettings,
    private readonly sleep: Sleeper = realSleep,
    private readonly onWaited?: (ms: number, outcome: 'granted' | 'refused') => void,
    /** A call was granted on `keyId`, leaving its windows as `fills` (for RateLimitWatch). */
    private readonly onGranted?: (keyId: string, fills: WindowFill[]) => void,
  ) {
    super();
  }

  /** How full each key's windows are now, refilled to this moment; empty with no limit configured. */
  async fills(keyIds: string[]): Promise<Map<string, WindowFill[]>> {
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = this.settings;
    if ((rpm <= 0 && tpm <= 0) || !keyIds.length) return new Map();
    const reply = (await this.redis.eval(
      FILLS,
      keyIds.length,
      ...keyIds.map((id) => this.bucket(id)),
      rpm,
      tpm,
      this.settings.windowMs ?? 60_000,
    )) as number[];
    return new Map(keyIds.map((id, i) => [id, this.windowFills(reply[2 * i], reply[2 * i + 1])]));
  }

  private windowFills(requestsMilli: number, tokensMilli: number): WindowFill[] {
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = this.settings;
    const fills: WindowFill[] = [];
    if (rpm > 0) fills.push({ window: 'requests', used: requestsMilli / 1000, capacity: rpm });
    if (tpm > 0) fills.push({ window: 'tokens', used: tokensMilli / 1000, capacity: tpm });
    return fills;
  }

  get countsTokens(): boolean {
    return this.settings.tokensPerMinute > 0;
  }

  private bucket(keyId: string): string {
    return `llm-rate:key:${keyId}`;
  }

  async acquire(
    keyIds: string[],
    tokens: number,
    signal?: AbortSignal,
    tenant = '',
  ): Promise<RateLimitGrant> {
    const { requestsPerMinute: rpm, tokensPerMinute: tpm, maxWaitMs } = this.settings;
    const ticket = randomUUID();
    const queue = `llm-rate:pool:${this.settings.poolId}`;
    const keys = [
      `${queue}:queue`,
      `${queue}:leases`,
      `${queue}:seq`,
      `${queue}:rounds`,
      `${queue}:serving`,
      ...keyIds.map((id) => this.bucket(id)),
    ];
    const buckets = keys.slice(5);
    const started = Date.now();
    const taken = tpm > 0 ? Math.min(Math.ceil(tokens), tpm) : 0;
    const unlimited = rpm <= 0 && tpm <= 0;
    for (;;) {
      if (signal?.aborted) {
        if (!unlimited) await this.leave(keys, ticket);
        throw new LlmError('aborted', 'The model call was cancelled.');
      }
      let reply: [number, number, number?, number?];
      try {
        reply = (
          unlimited
            ? await this.redis.eval(ACQUIRE_UNLIMITED, buckets.length, ...buckets)
            : await this.redis.eval(
                ACQUIRE,
                keys.length,
                ...keys,
                ticket,
                rpm,
                tpm,
                taken,
                LEASE_MS,
                Math.max(BUCKET_TTL_MS, (this.settings.windowMs ?? 60_000) * 2),
                this.settings.windowMs ?? 60_000,
                tenant,
              )
        ) as [number, number, number?, number?];
      } catch (error) {
        // As with the API's own rate limit: with Redis away, limiting is suspended rather than every call failing.
        this.logFailure(error);
        return { index: 0, settle: async () => undefined };
      }
      const [status, value] = reply;
      const waited = Date.now() - started;
      if (status === 1) {
        if (waited > 0) this.onWaited?.(waited, 'granted');
        if (!unlimited) this.onGranted?.(keyIds[value], this.windowFills(reply[2] ?? 0, reply[3] ?? 0));
        return { index: value, settle: (actual) => this.settle(keyIds[value], taken - actual) };
      }
      const remaining = maxWaitMs - waited;
      // The head knows how long its wait is: past the allowed wait it fails now rather than at the deadline.
      if ((status === 0 && value > remaining) || remaining <= 0) {
        if (!unlimited) await this.leave(keys, ticket);
        this.onWaited?.(waited, 'refused');
        const retryAfterSeconds = Math.max(1, Math.ceil((status === 0 ? value : maxWaitMs) / 1000));
        throw new LlmError(
          'rate_limited',
          `The model provider's rate limit for this deployment is reached: the call would wait more than ${Math.round(maxWaitMs / 1000)} s for its turn.`,
          undefined,
          retryAfterSeconds,
        );
      }
      const pause = status === 0 ? Math.min(Math.max(value, 5), HEAD_SLEEP_MAX_MS) : QUEUE_POLL_MS;
      try {
        await this.sleep(Math.min(pause, remaining), signal);
      } catch (error) {
        if (!unlimited) await this.leave(keys, ticket);
        throw error;
      }
    }
  }

  async penalize(keyId: string, ms: number): Promise<void> {
    const backOff = Math.min(Math.max(0, Math.ceil(ms)), MAX_PENALTY_MS);
    await this.redis
      .eval(PENALIZE, 1, this.bucket(keyId), backOff, BUCKET_TTL_MS)
      .catch((error: unknown) => this.logFailure(error));
  }

  private async settle(keyId: string, giveBack: number): Promise<void> {
    if (this.settings.tokensPerMinute <= 0 || giveBack === 0) return;
    await this.redis
      .eval(SETTLE, 1, this.bucket(keyId), Math.round(giveBack), this.settings.tokensPerMinute)
      .catch((error: unknown) => this.logFailure(error));
  }

  private async leave(keys: string[], ticket: string): Promise<void> {
    await this.redis
      .multi()
      .zrem(keys[0], ticket)
      .zrem(keys[1], ticket)
      .exec()
      .catch(() => undefined);
  }

  private logFailure(error: unknown): void {
    if (Date.now() - this.lastFailureLog < 30_000) return;
    this.lastFailureLog = Date.now();
    this.logger.warn(
      `The provider rate limit is suspended: Redis failed (${error instanceof Error ? error.message : String(error)}).`,
    );
  }
}
