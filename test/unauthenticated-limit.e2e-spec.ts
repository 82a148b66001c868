// Unauthenticated traffic is limited per client address before any key is looked up, and a bad key repeated is
// answered from a short negative cache: 1,000 bad keys do not make 1,000 database queries.
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { io } from 'socket.io-client';
import { DataSource } from 'typeorm';
import { ApiKeyService } from '@lib/auth';
import { JsonResponse, startTestApp, TestApp } from './support/app';
import { TEST_REDIS_URL } from './support/test-env';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** A key of the right shape that no tenant has. */
const unknownKey = () => `ak_live_${[...randomBytes(43)].map((b) => BASE62[b % 62]).join('')}`;
/** A documentation address of its own per test, so counters never collide. */
const address = () => `203.0.113.${Math.floor(Math.random() * 250) + 1}`;

describe('limits on unauthenticated traffic', () => {
  let redis: Redis;
  const apps: TestApp[] = [];
  const addresses: string[] = [];

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    const keys = addresses.splice(0).map((a) => `rate-limit:unauthenticated:${a}`);
    if (keys.length) await redis.del(...keys);
  });
  afterAll(() => redis.quit());

  const start = async (env: Record<string, string> = {}) => {
    const t = await startTestApp({ UNAUTHENTICATED_RATE_LIMIT_REQUESTS: '5', ...env });
    apps.push(t);
    return t;
  };
  const from = (ip: string) => {
    addresses.push(ip);
    return { 'x-forwarded-for': ip };
  };
  /** Counts the API-key lookups the app makes in PostgreSQL (the spy calls through: nothing is mocked). */
  const countKeyLookups = (t: TestApp) => {
    const dataSource = t.app.get(DataSource);
    const spy = jest.spyOn(dataSource, 'query');
    return {
      get count() {
        return spy.mock.calls.filter(([sql]) => String(sql).includes('FROM api_keys WHERE key_hash')).length;
      },
      restore: () => spy.mockRestore(),
    };
  };

  it('answers 429 to an address after 5 failed authentications, without looking its keys up', async () => {
    const t = await start();
    const ip = address();
    const lookups = countKeyLookups(t);
    try {
      const statuses: number[] = [];
      let last: JsonResponse | undefined;
      for (let i = 0; i < 40; i += 1) {
        last = await t.request('GET', '/v1/agents', { key: unknownKey(), headers: from(ip) });
        statuses.push(last.status);
      }
      expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(new Set(statuses.slice(5))).toEqual(new Set([429]));
      expect(lookups.count).toBe(5);
      expect(last!.body.error).toMatchObject({ type: 'rate_limited', request_id: expect.any(String) });
      const retryAfter = Number(last!.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
    } finally {
      lookups.restore();
    }
  });

  it('counts requests without any key too, and leaves other addresses and trusted keys alone', async () => {
    const t = await start();
    const [blocked, other] = [address(), address()];
    // The user key is validated (and so trusted by this instance) before the address gets blocked.
    expect((await t.request('GET', '/v1/agents', { headers: from(blocked) })).status).toBe(200);
    for (let i = 0; i < 5; i += 1) {
      expect((await t.request('GET', '/v1/agents', { key: null, headers: from(blocked) })).status).toBe(401);
    }
    expect((await t.request('GET', '/v1/agents', { key: null, headers: from(blocked) })).status).toBe(429);
    expect((await t.request('GET', '/v1/agents', { key: unknownKey(), headers: from(blocked) })).status).toBe(
      429,
    );
    expect((await t.request('GET', '/v1/agents', { headers: from(blocked) })).status).toBe(200);
    expect((await t.request('GET', '/v1/agents', { key: null, headers: from(other) })).status).toBe(401);
    // Public routes need no key and are never counted.
    expect((await t.request('GET', '/health/live', { key: null, headers: from(blocked) })).status).toBe(200);
  });

  it('counts failed Socket.IO handshakes against the address too, refusing with rate_limited past the limit', async () => {
    const t = await start();
    const ip = address();
    const handshake = (token: string) => {
      const socket = io(`${t.url}/chat`, {
        auth: { token },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        extraHeaders: from(ip),
      });
      return new Promise<string>((resolve) => {
        socket.once('connect', () => {
          socket.disconnect();
          resolve('connected');
        });
        socket.once('connect_error', (error) => {
          socket.disconnect();
          resolve(error.message);
        });
      });
    };
    const outcomes: string[] = [];
    for (let i = 0; i < 7; i += 1) outcomes.push(await handshake(unknownKey()));
    expect(outcomes).toEqual([
      'unauthorized',
      'unauthorized',
      'unauthorized',
      'unauthorized',
      'unauthorized',
      'rate_limited',
      'rate_limited',
    ]);
    // HTTP from the same address is refused as well: one count per address.
    expect((await t.request('GET', '/v1/agents', { key: null, headers: from(ip) })).status).toBe(429);
    // A key this instance trusts still connects.
    await t.request('GET', '/v1/agents');
    expect(await handshake(t.userKey)).toBe('connected');
  });

  it('holds the limit across instances: the counters are in Redis', async () => {
    const [a, b] = [await start(), await start()];
    const ip = address();
    for (let i = 0; i < 5; i += 1) {
      expect((await a.request('GET', '/v1/agents', { key: unknownKey(), headers: from(ip) })).status).toBe(
        401,
      );
    }
    expect((await b.request('GET', '/v1/agents', { key: unknownKey(), headers: from(ip) })).status).toBe(429);
  });

  it('believes X-Forwarded-For only from a trusted proxy: a client cannot rotate it to escape', async () => {
    const t = await start({ TRUST_PROXY: 'false' });
    addresses.push('127.0.0.1');
    await redis.del('rate-limit:unauthenticated:127.0.0.1');
    const statuses: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      const res = await t.request('GET', '/v1/agents', {
        key: unknownKey(),
        headers: { 'x-forwarded-for': address() },
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
  });

  it('answers a bad key repeated from the negative cache: one database query, not one per request', async () => {
    const t = await start({ UNAUTHENTICATED_RATE_LIMIT_REQUESTS: '0' });
    const lookups = countKeyLookups(t);
    try {
      const bad = unknownKey();
      const answers = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          // The first one alone, so the others find its answer cached.
          if (i > 0) await new Promise((resolve) => setTimeout(resolve, 30));
          return (await t.request('GET', '/v1/agents', { key: bad, headers: from(address()) })).status;
        }),
      );
      expect(new Set(answers)).toEqual(new Set([401]));
      expect(lookups.count).toBeLessThanOrEqual(2);
      // The same key, registered afterwards on this instance (as ADMIN_API_KEY is at boot), is not refused from the cache.
      await t.app
        .get(ApiKeyService)
        .register(bad, { tenant: t.tenantId, role: 'user', name: 'registered later' });
      expect((await t.request('GET', '/v1/agents', { key: bad })).status).toBe(200);
    } finally {
      lookups.restore();
    }
  });
});
