// One turn at a time per conversation, across every instance: a Redis lease renewed while the turn runs, with a
// fencing token that the conversation store checks, so a turn whose lease was lost can never write after another
// turn took the conversation.
import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig, ConversationBusyError, lockConflicts, Metrics, RedisService } from '@lib/core';

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const NAME = `if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2], 'KEEPTTL') return 1 else return 0 end`;

// KEYS: 1 lock, 2 fence counter. ARGV: 1 holder value, 2 lock ttl ms, 3 fence ttl ms, 4 the suffix ('|run:<id>') of
// a holder value this acquisition takes over ('' for none): a run executed again takes its own lock at once, even
// while the lease of its earlier execution (a dead process) has not expired yet.
// Returns {1, fence} taken, {0, holder} busy. The fence never goes below the current time in microseconds (about
// 1.8e15: exact in a double, a JS number and a bigint), so it keeps increasing even when Redis forgets the counter
// (expiry, a flush, a failover): a new lease outranks every earlier one as long as a conversation takes fewer
// than one lease per microsecond, which the round trips of taking and releasing a lease already rule out.
const ACQUIRE = `
local taken = redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX')
if not taken and ARGV[4] ~= '' then
  local holder = redis.call('get', KEYS[1])
  if holder and string.sub(holder, -string.len(ARGV[4])) == ARGV[4] then
    taken = redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  end
end
if taken then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local fence = redis.call('incr', KEYS[2])
  if fence < now then
    fence = now
    redis.call('set', KEYS[2], fence)
  end
  redis.call('pexpire', KEYS[2], ARGV[3])
  return {1, fence}
end
return {0, redis.call('get', KEYS[1])}
`;

/** A fence counter left alone this long may be forgotten: the clock floor takes over (see ACQUIRE). */
const FENCE_TTL_MS = 7 * 24 * 3_600_000;

export interface ConversationLease {
  readonly conversationId: string;
  readonly since: Date;
  /**
   * The fencing token: greater than that of every earlier lease of the conversation. A write made under the
   * lease passes it to ConversationStore.appendTurn, which refuses it once a later lease has written.
   */
  readonly fence: number;
  /**
   * Aborted when the lease is lost: a renewal found the lock gone or held by another turn (it expired, say,
   * while Redis or this process stalled). The turn should stop; its final write will be fenced anyway.
   */
  readonly lost: AbortSignal;
  /**
   * Names the run this lease is for, when it was taken before the run was known (a queued run claimed under it):
   * from then on the lock belongs to that run, and an execution of it takes the lock over at once (see acquire).
   * False when the lease is no longer held.
   */
  nameRun(runId: string): Promise<boolean>;
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
   * The run named by each conversation's lock: its id, `null` when the lock is held by no particular run (a
   * dispatcher between taking it and starting a run), `undefined` when nobody holds it. One round trip.
   */
  async holders(conversationIds: readonly string[]): Promise<Map<string, string | null | undefined>> {
    const found = new Map<string, string | null | undefined>();
    if (!conversationIds.length) return found;
    const values = await this.redis.client.mget(...conversationIds.map((id) => this.key(id)));
    conversationIds.forEach((id, i) => {
      const value = values[i];
      found.set(id, value === null ? undefined : (/\|run:(.+)$/.exec(value)?.[1] ?? null));
    });
    return found;
  }

  /**
   * Takes the conversation's lease or throws ConversationBusyError saying since when the running
   * turn holds it. The lease is renewed at a third of its TTL, so a crashed instance blocks the
   * conversation for at most one TTL — except for its own run: the lock belongs to the run it names (`runId`),
   * and with `takeover` an execution of that same run takes it at once, whoever held it (a run executed again
   * after its process died; the earlier execution, if it still lives, finds its lease lost and its writes fenced).
   */
  async acquire(
    conversationId: string,
    owner: { runId?: string; takeover?: boolean } = {},
  ): Promise<ConversationLease> {
    const ttl = this.config.lockTtlMs;
    const since = new Date();
    const runSuffix = owner.runId ? `|run:${owner.runId}` : '';
    let value = `${randomUUID()}|${since.getTime()}${runSuffix}`;
    const key = this.key(conversationId);
    const [taken, detail] = (await this.redis.client.eval(
      ACQUIRE,
      2,
      key,
      `conversation-fence:${conversationId}`,
      value,
      ttl,
      FENCE_TTL_MS,
      owner.takeover ? runSuffix : '',
    )) as [number, string | number | null];
    if (taken !== 1) {
      this.conflicts.inc();
      const startedAt = Number(String(detail).split('|')[1]);
      throw new ConversationBusyError(
        conversationId,
        new Date(Number.isFinite(startedAt) ? startedAt : Date.now()),
      );
    }
    const fence = Number(detail);
    const lost = new AbortController();
    const timer = setInterval(
      () => {
        this.redis.client
          .eval(RENEW, 1, key, value, ttl)
          .then((renewed) => {
            if (renewed === 1 || released) return;
            // A Redis error is retried at the next tick; a lock that is gone or someone else's is lost for good.
            clearInterval(timer);
            this.logger.warn(
              `The lock of conversation ${conversationId} was lost (it expired or another turn holds it): the turn is stopped and its write will be refused if another turn wrote first.`,
            );
            lost.abort(new ConversationLeaseLostError(conversationId));
          })
          .catch((error: Error) => {
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
      fence,
      lost: lost.signal,
      nameRun: async (runId: string) => {
        const named = `${value.replace(/\|run:.*$/, '')}|run:${runId}`;
        const done = (await this.redis.client.eval(NAME, 1, key, value, named)) === 1;
        if (done) value = named;
        return done;
      },
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

/** The reason a lease's `lost` signal carries. */
export class ConversationLeaseLostError extends Error {
  constructor(readonly conversationId: string) {
    super(`The lock of conversation ${conversationId} was lost.`);
    this.name = 'ConversationLeaseLostError';
  }
}
