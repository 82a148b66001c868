// Rate limiting per API key, counted in Redis: one budget shared by every instance, 429 rate_limited with Retry-After.
import { randomUUID } from 'node:crypto';
import { RedisThrottlerStorage } from '@lib/auth';
import { startTestApp, TestApp } from './support/app';

describe('rate limiting per API key', () => {
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    const limits = { RATE_LIMIT_REQUESTS: '5', RATE_LIMIT_WINDOW_SECONDS: '60' };
    a = await startTestApp(limits);
    b = await startTestApp(limits);
  });

  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('holds one limit across two instances sharing Redis, then answers 429 rate_limited with Retry-After', async () => {
    const statuses: number[] = [];
    for (const app of [a, b, a, b, a]) {
      const res = await app.request('GET', '/v1/agents', { key: a.userKey });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    for (const app of [b, a]) {
      const limited = await app.request('GET', '/v1/tools', { key: a.userKey });
      expect(limited.status).toBe(429);
      expect(limited.body.error).toMatchObject({ type: 'rate_limited', request_id: expect.any(String) });
      expect(limited.body.error.message).toMatch(/5 requests per 60 s/);
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
  });

  it('counts each key on its own: another key of the same tenant is not limited', async () => {
    for (let i = 0; i < 6; i++) await a.request('GET', '/v1/agents', { key: a.userKey });
    const other = await b.request('GET', '/v1/agents', { key: a.adminKey });
    expect(other.status).toBe(200);
    expect(other.headers.get('x-ratelimit-limit')).toBe('5');
    expect(other.headers.get('x-ratelimit-remaining')).toBe('4');
  });

  it('counts atomically in one script: of 30 concurrent hits on two instances, exactly the limit pass', async () => {
    const key = `atomic:${randomUUID()}`;
    const storages = [a.app.get(RedisThrottlerStorage), b.app.get(RedisThrottlerStorage)];
    const records = await Promise.all(
      Array.from({ length: 30 }, (_, i) => storages[i % 2].increment(key, 60_000, 10, 0, 'default')),
    );
    expect(records.filter((r) => !r.isBlocked)).toHaveLength(10);
    expect(records.map((r) => r.totalHits).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    for (const blocked of records.filter((r) => r.isBlocked)) {
      expect(blocked.timeToBlockExpire).toBeGreaterThanOrEqual(1);
      expect(blocked.timeToBlockExpire).toBeLessThanOrEqual(60);
    }
  });

  it('never limits the health probes', async () => {
    for (let i = 0; i < 8; i++)
      expect((await a.request('GET', '/health/live', { key: null })).status).toBe(200);
  });

  it('lets the key go on once the window ends', async () => {
    const short = await startTestApp({ RATE_LIMIT_REQUESTS: '2', RATE_LIMIT_WINDOW_SECONDS: '1' });
    try {
      const first = [];
      for (let i = 0; i < 3; i++) first.push((await short.request('GET', '/v1/agents')).status);
      expect(first).toEqual([200, 200, 429]);
      await new Promise((r) => setTimeout(r, 1_100));
      expect((await short.request('GET', '/v1/agents')).status).toBe(200);
    } finally {
      await short.close();
    }
  });

  it('can be switched off with RATE_LIMIT_REQUESTS=0', async () => {
    const open = await startTestApp({ RATE_LIMIT_REQUESTS: '0' });
    try {
      for (let i = 0; i < 10; i++) expect((await open.request('GET', '/v1/agents')).status).toBe(200);
    } finally {
      await open.close();
    }
  });
});
