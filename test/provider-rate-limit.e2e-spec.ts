// The provider rate limit shared through Redis: calls wait their turn in order instead of failing, the limit
// holds across two app instances, past the allowed wait chat answers 429 and a task is retried later.
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { LlmError, RedisRateLimiter } from '@lib/llm';
import { FakeAnthropic } from './support/fake-anthropic';
import { removeTenantData, startTestApp, TestApp } from './support/app';
import { removeQueueKeys, testQueuePrefix, waitForStatus } from './support/tasks';
import { TEST_REDIS_URL } from './support/test-env';

const key = (name: string) => `sk-ant-${name}-${randomUUID()}`;

/**
 * A token bucket of `capacity` refilled one token per `intervalMs` never lets the n-th call (1-based) go
 * before (n - capacity) intervals have passed since the first; `slackMs` absorbs scheduling noise.
 */
function expectWithinBucket(arrivals: number[], capacity: number, intervalMs: number, slackMs = 60): void {
  const sorted = [...arrivals].sort((a, b) => a - b);
  sorted.forEach((at, i) => {
    const earliest = (i + 1 - capacity) * intervalMs;
    if (earliest > 0) expect(at - sorted[0]).toBeGreaterThanOrEqual(earliest - slackMs);
  });
}

describe('the shared rate limiter (RedisRateLimiter against Redis)', () => {
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(() => redis.quit());

  const limiter = (settings: { rpm: number; windowMs: number; maxWaitMs: number; tpm?: number }) =>
    new RedisRateLimiter(redis, {
      requestsPerMinute: settings.rpm,
      tokensPerMinute: settings.tpm ?? 0,
      windowMs: settings.windowMs,
      maxWaitMs: settings.maxWaitMs,
      poolId: randomUUID(),
    });

  it('serves waiting calls one at a time, in the order they arrived', async () => {
    const bucket = limiter({ rpm: 1, windowMs: 150, maxWaitMs: 5_000 });
    const keyId = randomUUID();
    const order: number[] = [];
    const waits: Array<Promise<void>> = [];
    for (let i = 0; i < 5; i += 1) {
      waits.push(bucket.acquire([keyId], 1).then(() => void order.push(i)));
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    const startedAt = Date.now();
    await Promise.all(waits);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(4 * 150 - 100);
  });

  it('gives each tenant a fair share while calls queue: a burst from one tenant does not starve another', async () => {
    // One call per 100 ms. Tenant A queues 30 calls at once; B's three calls arrive behind them. In arrival
    // order B would wait about 3 s (past the allowed 2.5 s, so 429); with a share per tenant they interleave.
    const bucket = limiter({ rpm: 1, windowMs: 100, maxWaitMs: 2_500 });
    const keyId = randomUUID();
    const served: string[] = [];
    const call = (tenant: string, i: number) =>
      bucket.acquire([keyId], 1, undefined, tenant).then(
        () => void served.push(`${tenant}${i}`),
        (error: LlmError) => void served.push(`${tenant}${i}:${error.kind}`),
      );
    const burst = Array.from({ length: 30 }, (_, i) => call('a', i));
    await new Promise((resolve) => setTimeout(resolve, 150));
    const startedAt = Date.now();
    await Promise.all(Array.from({ length: 3 }, (_, i) => call('b', i)));
    const bWaited = Date.now() - startedAt;
    await Promise.all(burst);

    expect(served.filter((s) => s.startsWith('b'))).toEqual(['b0', 'b1', 'b2']);
    expect(bWaited).toBeLessThan(1_000);
    // One call of each tenant per round once B is waiting: at most one of A's between two of B's.
    const at = (name: string) => served.indexOf(name);
    expect(at('b1') - at('b0')).toBeLessThanOrEqual(2);
    expect(at('b2') - at('b1')).toBeLessThanOrEqual(2);
    // Within a tenant, arrival order.
    const aGranted = served.filter((s) => /^a\d+$/.test(s)).map((s) => Number(s.slice(1)));
    expect(aGranted).toEqual([...aGranted].sort((x, y) => x - y));
  });

  it('limits tokens too, and gives back what a call did not use', async () => {
    const bucket = limiter({ rpm: 0, tpm: 1_000, windowMs: 60_000, maxWaitMs: 100 });
    const keyId = randomUUID();
    const first = await bucket.acquire([keyId], 800);
    await expect(bucket.acquire([keyId], 800)).rejects.toMatchObject({ kind: 'rate_limited' });
    await first.settle(100);
    await expect(bucket.acquire([keyId], 800)).resolves.toMatchObject({ index: 0 });
  });

  it('takes the first key with room, and none that is in a back-off', async () => {
    const bucket = limiter({ rpm: 1, windowMs: 60_000, maxWaitMs: 100 });
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    await bucket.penalize(a, 30_000);
    expect((await bucket.acquire([a, b, c], 1)).index).toBe(1);
    expect((await bucket.acquire([a, b, c], 1)).index).toBe(2);
  });

  it('with no limit configured still keeps every call off a key in a back-off, and waits for the first to end', async () => {
    const poolId = randomUUID();
    const bucket = new RedisRateLimiter(redis, {
      requestsPerMinute: 0,
      tokensPerMinute: 0,
      windowMs: 60_000,
      maxWaitMs: 2_000,
      poolId,
    });
    expect(bucket.countsTokens).toBe(false);
    const [a, b] = [randomUUID(), randomUUID()];
    await bucket.penalize(a, 30_000);
    expect((await bucket.acquire([a, b], 1)).index).toBe(1);
    expect((await bucket.acquire([a, b], 1)).index).toBe(1);
    await bucket.penalize(b, 300);
    const startedAt = Date.now();
    expect((await bucket.acquire([a, b], 1)).index).toBe(1);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(250);
    await bucket.penalize(b, 10_000);
    await expect(bucket.acquire([a, b], 1)).rejects.toMatchObject({ kind: 'rate_limited' });
    // Nothing queued: an unlimited pool keeps no tickets behind.
    expect(await redis.keys(`llm-rate:pool:${poolId}*`)).toEqual([]);
  });

  it('refuses with rate_limited and a retry-after once the wait would pass the allowed maximum', async () => {
    const bucket = limiter({ rpm: 1, windowMs: 60_000, maxWaitMs: 200 });
    const keyId = randomUUID();
    await bucket.acquire([keyId], 1);
    const startedAt = Date.now();
    const refusal = (await bucket.acquire([keyId], 1).catch((e: unknown) => e)) as LlmError;
    expect(refusal).toBeInstanceOf(LlmError);
    expect(refusal).toMatchObject({ kind: 'rate_limited', retryable: true });
    expect(refusal.retryAfterSeconds).toBeGreaterThanOrEqual(59);
    expect(Date.now() - startedAt).toBeLessThan(150);
  });

  it('drops a cancelled waiter from the queue, so it never blocks the others', async () => {
    const bucket = limiter({ rpm: 1, windowMs: 200, maxWaitMs: 3_000 });
    const keyId = randomUUID();
    await bucket.acquire([keyId], 1);
    const controller = new AbortController();
    const abandoned = bucket.acquire([keyId], 1, controller.signal).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    expect(await abandoned).toMatchObject({ kind: 'aborted' });
    await expect(bucket.acquire([keyId], 1)).resolves.toMatchObject({ index: 0 });
  });
});

describe('the provider rate limit in the app', () => {
  let fake: FakeAnthropic;
  const apps: TestApp[] = [];
  let arrivals: number[];

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
  });
  beforeEach(() => {
    arrivals = [];
    fake.respondWith(() => {
      arrivals.push(Date.now());
      return { text: 'Answered.' };
    });
  });
  afterEach(async () => {
    fake.reset();
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  afterAll(() => fake.stop());

  /** Two requests per second, a burst of two: a tiny bucket. */
  const tinyBucket = (apiKey: string, extra: Record<string, string> = {}) => ({
    ANTHROPIC_API_KEY: apiKey,
    ANTHROPIC_BASE_URL: fake.url,
    LLM_MAX_RETRIES: '0',
    LLM_REQUESTS_PER_MINUTE: '2',
    LLM_RATE_LIMIT_WINDOW_MS: '1000',
    LLM_RATE_LIMIT_MAX_WAIT_MS: '10000',
    ...extra,
  });

  const chat = (t: TestApp, i: number) =>
    t.request('POST', '/v1/chat', { json: { message: `Question ${i}` } });

  it('makes calls wait their turn under parallel load instead of failing', async () => {
    const t = await startTestApp(tinyBucket(key('parallel')));
    apps.push(t);
    const answers = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => chat(t, i)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(arrivals).toHaveLength(6);
    expectWithinBucket(arrivals, 2, 500);
    expect(Math.max(...arrivals) - Math.min(...arrivals)).toBeGreaterThanOrEqual(4 * 500 - 100);
  });

  it("serves another tenant's turns while one tenant's burst waits: no tenant starves another", async () => {
    // Five calls per second. Tenant A sends 25 turns at once, B three turns just after. In arrival order B
    // would wait about 4 s behind A's burst (past the allowed 2.5 s: 429); with a share per tenant it does not.
    const t = await startTestApp(
      tinyBucket(key('fair'), { LLM_REQUESTS_PER_MINUTE: '5', LLM_RATE_LIMIT_MAX_WAIT_MS: '2500' }),
    );
    apps.push(t);
    const otherTenant = `${t.tenantId}-b`;
    try {
      const issued = await t.request('POST', '/v1/admin/api-keys', {
        json: { tenant: otherTenant, role: 'user', name: 'tenant b' },
        key: t.adminKey,
      });
      const burst = Array.from({ length: 25 }, (_, i) => chat(t, i));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const others = await Promise.all(
        [0, 1, 2].map((i) =>
          t.request('POST', '/v1/chat', { json: { message: `B ${i}` }, key: issued.body.key }),
        ),
      );
      expect(others.map((a) => a.status)).toEqual([200, 200, 200]);
      const burstStatuses = (await Promise.all(burst)).map((a) => a.status);
      // A's own burst is what waits too long: its late calls are the ones refused.
      expect(burstStatuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    } finally {
      await removeTenantData(otherTenant);
    }
  });

  it('holds the limit across two app instances sharing a key', async () => {
    const shared = key('shared');
    const a = await startTestApp(tinyBucket(shared));
    const b = await startTestApp(tinyBucket(shared));
    apps.push(a, b);
    const answers = await Promise.all([
      ...[0, 1, 2].map((i) => chat(a, i)),
      ...[3, 4, 5].map((i) => chat(b, i)),
    ]);
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(arrivals).toHaveLength(6);
    // Together, not each: two instances with their own buckets would have let four calls through at once.
    expectWithinBucket(arrivals, 2, 500);
  });

  it('answers 429 rate_limited with Retry-After when the wait would pass LLM_RATE_LIMIT_MAX_WAIT_MS', async () => {
    const t = await startTestApp(
      tinyBucket(key('refused'), {
        LLM_REQUESTS_PER_MINUTE: '1',
        LLM_RATE_LIMIT_WINDOW_MS: '60000',
        LLM_RATE_LIMIT_MAX_WAIT_MS: '200',
      }),
    );
    apps.push(t);
    expect((await chat(t, 1)).status).toBe(200);
    const refused = await chat(t, 2);
    expect(refused.status).toBe(429);
    expect(refused.body.error.type).toBe('rate_limited');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(arrivals).toHaveLength(1);
  });

  it('retries a background task later when the rate limit makes it wait too long', async () => {
    const prefix = testQueuePrefix('rate-limit');
    const t = await startTestApp(
      tinyBucket(key('task'), {
        LLM_REQUESTS_PER_MINUTE: '1',
        LLM_RATE_LIMIT_WINDOW_MS: '2000',
        LLM_RATE_LIMIT_MAX_WAIT_MS: '100',
        QUEUE_PREFIX: prefix,
        TASK_BACKOFF_MS: '2500',
        TASK_MAX_ATTEMPTS: '3',
      }),
    );
    apps.push(t);
    try {
      expect((await chat(t, 1)).status).toBe(200);
      const created = await t.request('POST', '/v1/tasks', {
        json: { agent_name: 'support', instruction: 'Summarise the returns policy.' },
      });
      expect(created.status).toBe(202);
      const read = (id: string) => t.request('GET', `/v1/tasks/${id}`);
      const queued = await waitForStatus(read, created.body.task_id, ['queued'], 5_000);
      const retrying = await waitForStatus(
        async (id) => {
          const res = await read(id);
          return res.body.attempts >= 1 && res.body.status === 'queued' ? res : { ...res, body: {} };
        },
        created.body.task_id,
        ['queued'],
        5_000,
      );
      expect(queued.status).toBe('queued');
      expect(retrying.error).toMatch(/rate limit/);
      const done = await waitForStatus(read, created.body.task_id, ['completed', 'failed'], 10_000);
      expect(done).toMatchObject({ status: 'completed', attempts: 2, result: 'Answered.' });
    } finally {
      await removeQueueKeys(prefix);
    }
  });
});
