// The provider rate limit shared through Redis: calls wait their turn in order instead of failing, the limit
// holds across two app instances, past the allowed wait chat answers 429 and a task is retried later.
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { Metrics } from '@lib/core';
import { LlmError, NearCapacity, RateLimitWatch, RedisRateLimiter } from '@lib/llm';
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

jest.setTimeout(20_000);

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

describe('how full the limiter is (RateLimitWatch against Redis)', () => {
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(() => redis.quit());

  /** A limiter of `rpm` requests per window on one key, watched with an alert at 80%. */
  function watched(rpm: number, windowMs: number, tpm = 0) {
    const metrics = new Metrics();
    const watch = new RateLimitWatch({ ratio: 0.8, redis, metrics });
    const alerts: NearCapacity[] = [];
    watch.onNearCapacity((alert) => void alerts.push(alert));
    const keyId = randomUUID();
    const limiter = new RedisRateLimiter(
      redis,
      { requestsPerMinute: rpm, tokensPerMinute: tpm, windowMs, maxWaitMs: 0, poolId: randomUUID() },
      undefined,
      undefined,
      (id, fills) => void watch.observe(id, fills),
    );
    watch.watch([{ id: keyId, label: '#1' }], windowMs, () => limiter.fills([keyId]));
    const gauge = async (window: string) => {
      const metric = await metrics.registry.getSingleMetric('llm_rate_limit_window_usage_ratio')!.get();
      return metric.values.find((v) => v.labels.key === '#1' && v.labels.window === window)?.value;
    };
    return { watch, alerts, limiter, keyId, gauge, metrics };
  }
  const settle = () => new Promise((resolve) => setTimeout(resolve, 30));

  it('alerts once per window when a window reaches the ratio, and publishes how full each window is', async () => {
    const { alerts, limiter, keyId, gauge } = watched(5, 60_000);
    for (let i = 0; i < 3; i += 1) await limiter.acquire([keyId], 1);
    await settle();
    expect(alerts).toEqual([]);
    expect(await gauge('requests')).toBeCloseTo(0.6, 2);
    expect(await gauge('tokens')).toBeUndefined();
    await limiter.acquire([keyId], 1);
    await settle();
    expect(alerts).toEqual([
      {
        key: `#1 (sha256 ${keyId})`,
        key_id: keyId,
        window: 'requests',
        used: 4,
        capacity: 5,
        ratio: 0.8,
        threshold: 0.8,
        window_ms: 60_000,
      },
    ]);
    // Full now, but the window already had its alert.
    await limiter.acquire([keyId], 1);
    await settle();
    expect(alerts).toHaveLength(1);
    expect(await gauge('requests')).toBeCloseTo(1, 2);
  });

  it('alerts again in the next window, and watches the token window too', async () => {
    const { alerts, limiter, keyId, gauge } = watched(0, 400, 1_000);
    await limiter.acquire([keyId], 850);
    await settle();
    expect(alerts.map((a) => [a.window, a.used, a.capacity])).toEqual([['tokens', 850, 1_000]]);
    // Read at the scrape: a little of the 400 ms window has refilled already.
    expect(await gauge('tokens')).toBeGreaterThan(0.5);
    expect(await gauge('tokens')).toBeLessThanOrEqual(0.85);
    await new Promise((resolve) => setTimeout(resolve, 450));
    // Refilled with time: the scrape reads the bucket as it is now.
    expect(await gauge('tokens')).toBeLessThan(0.1);
    await limiter.acquire([keyId], 900);
    await settle();
    expect(alerts.map((a) => a.used)).toEqual([850, 900]);
  });

  it('alerts once per window across instances sharing the key', async () => {
    const a = watched(10, 60_000);
    const other = new RateLimitWatch({ ratio: 0.8, redis });
    const fromOther: NearCapacity[] = [];
    other.onNearCapacity((alert) => void fromOther.push(alert));
    for (let i = 0; i < 8; i += 1) await a.limiter.acquire([a.keyId], 1);
    await settle();
    await other.observe(a.keyId, [{ window: 'requests', used: 9, capacity: 10 }]);
    expect(a.alerts).toHaveLength(1);
    expect(fromOther).toEqual([]);
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

  /**
   * How far apart two provider arrivals may be measured against the gaps the bucket sets: each call crosses
   * the app and the SDK between its grant and the fake provider, which takes longer for some than for others
   * on a loaded machine.
   */
  const IN_APP_SLACK_MS = 200;

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
    // Arrivals are read at the provider, after each call's own trip through a busy machine: a generous slack,
    // still far below the interval (without the limit all six arrive within a few milliseconds of each other).
    expectWithinBucket(arrivals, 2, 500, IN_APP_SLACK_MS);
    expect(Math.max(...arrivals) - Math.min(...arrivals)).toBeGreaterThanOrEqual(4 * 500 - IN_APP_SLACK_MS);
  });

  it("serves another tenant's turns while one tenant's burst waits: no tenant starves another", async () => {
    // A burst of five, then one call per 600 ms; a call may wait 6 s. Tenant A sends 25 turns at once, B three
    // turns just after. A's burst outruns the bucket even if a busy machine lets its turns reach the limiter only
    // one per 300 ms: its late calls wait past 6 s (429), and in arrival order B would wait behind all of them
    // (429 too). With a share per tenant B's calls alternate with A's: about 3.6 s for the three at most.
    const t = await startTestApp(
      tinyBucket(key('fair'), {
        LLM_REQUESTS_PER_MINUTE: '5',
        LLM_RATE_LIMIT_WINDOW_MS: '3000',
        LLM_RATE_LIMIT_MAX_WAIT_MS: '6000',
      }),
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
  }, 40_000);

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
    expectWithinBucket(arrivals, 2, 500, IN_APP_SLACK_MS);
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
    // One call per 6 s. The chat takes it; the task's first attempt comes within those 6 s however busy the
    // machine (a wait of more than 100 ms is refused), and its retry, 6 s later, finds the bucket full again.
    const prefix = testQueuePrefix('rate-limit');
    const t = await startTestApp(
      tinyBucket(key('task'), {
        LLM_REQUESTS_PER_MINUTE: '1',
        LLM_RATE_LIMIT_WINDOW_MS: '6000',
        LLM_RATE_LIMIT_MAX_WAIT_MS: '100',
        QUEUE_PREFIX: prefix,
        TASK_BACKOFF_MS: '6000',
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
        10_000,
      );
      expect(queued.status).toBe('queued');
      expect(retrying.error).toMatch(/rate limit/);
      const done = await waitForStatus(read, created.body.task_id, ['completed', 'failed'], 20_000);
      expect(done).toMatchObject({ status: 'completed', attempts: 2, result: 'Answered.' });
      expect(arrivals).toHaveLength(2);
    } finally {
      await removeQueueKeys(prefix);
    }
  }, 45_000);
});

describe('the near-capacity alert in the app', () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  let fake: FakeAnthropic;
  let receiver: Server;
  const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  let t: TestApp;

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    fake.respondWith(() => ({ text: 'Answered.' }));
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    t = await startTestApp({
      ANTHROPIC_API_KEY: key('alert'),
      ANTHROPIC_BASE_URL: fake.url,
      LLM_MAX_RETRIES: '0',
      // Five requests per ten minutes: the bucket refills so slowly (one request every two minutes) that what
      // the test reads of it does not depend on how long a busy machine takes between the calls.
      LLM_REQUESTS_PER_MINUTE: '5',
      LLM_RATE_LIMIT_WINDOW_MS: '600000',
      RATE_LIMIT_ALERT_RATIO: '0.8',
      WEBHOOK_SECRET: secret,
      ALERT_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`,
      // Alerts go through the webhook outbox and its guard, like every outbound call.
      OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
    });
  });
  afterAll(async () => {
    await t.close();
    receiver.close();
    await fake.stop();
  });

  it('sends one signed rate_limit.near_capacity alert per window and shows the window in /metrics', async () => {
    for (let i = 0; i < 3; i += 1) expect((await chat(t, i)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received).toHaveLength(0);
    for (let i = 3; i < 5; i += 1) expect((await chat(t, i)).status).toBe(200);
    // Delivered through the webhook queue: on a loaded machine that can take a few seconds.
    const deadline = Date.now() + 10_000;
    while (!received.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received).toHaveLength(1);
    const [alert] = received;
    const payload = new Webhook(secret).verify(alert.body, {
      'webhook-id': String(alert.headers['webhook-id']),
      'webhook-timestamp': String(alert.headers['webhook-timestamp']),
      'webhook-signature': String(alert.headers['webhook-signature']),
    });
    expect(payload).toEqual({
      event: 'rate_limit.near_capacity',
      alert: expect.objectContaining({
        id: alert.headers['webhook-id'],
        key: expect.stringMatching(/^#1 \(sha256 [0-9a-f]{16}\)$/),
        window: 'requests',
        used: 4,
        capacity: 5,
        threshold: 0.8,
        window_ms: 600_000,
      }),
    });
    const metrics = await t.request('GET', '/metrics', { key: t.adminKey });
    const line = (metrics.body as string)
      .split('\n')
      .find((l) => l.startsWith('llm_rate_limit_window_usage_ratio{') && l.includes('window="requests"'));
    expect(line).toMatch(/key="#1"/);
    // Five of five requests taken; the bucket refills 1/120 of a request a second meanwhile.
    expect(Number(line!.split(' ').at(-1))).toBeGreaterThanOrEqual(0.9);
  });
});

function chat(t: TestApp, i: number) {
  return t.request('POST', '/v1/chat', { json: { message: `Question ${i}` } });
}
