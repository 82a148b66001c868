// Sockets under the same rules as REST, on two real instances sharing PostgreSQL and Redis: a revoked key's sockets
// are disconnected, socket messages spend the key's REST rate limit, and a key holds a bounded number of sockets.
import { ApiKeyService, SocketConnectionLimit } from '@lib/auth';
import type { DataSource } from 'typeorm';
import { startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';
import { connectError, connectSocket, TestSocket } from './support/socket';

/** A long key cache: its periodic re-check runs every 10 s, so a disconnect within a second is the broadcast's. */
const LIMITS = {
  API_KEY_CACHE_TTL_MS: '30000',
  RATE_LIMIT_REQUESTS: '6',
  RATE_LIMIT_WINDOW_SECONDS: '60',
  SOCKET_MAX_CONNECTIONS_PER_KEY: '3',
};

describe('sockets under the same rules as REST', () => {
  let a: TestApp;
  let b: TestApp;
  let db: DataSource;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    a = await startTestApp(LIMITS);
    b = await startTestApp(LIMITS);
    db = await openTestDataSource();
  });

  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
  });

  afterAll(async () => {
    await db.destroy();
    await b.close();
    await a.close();
  });

  /** A fresh user key of a's tenant: every test spends a budget and slots of its own. */
  const newKey = () =>
    a.app.get(ApiKeyService).create({ tenant: a.tenantId, role: 'user', name: 'socket limits' });

  const open = async (app: TestApp, key: string) => {
    const s = await connectSocket(app.url, key);
    sockets.push(s);
    return s;
  };

  /** When and why the server disconnected the socket, and the `error` events received until then. */
  const disconnection = (s: TestSocket) =>
    new Promise<{ reason: string; at: number; errors: unknown[] }>((resolve) =>
      s.socket.once('disconnect', (reason) =>
        resolve({ reason, at: performance.now(), errors: s.named('error').map((e) => e.payload) }),
      ),
    );

  describe('revocation', () => {
    it("disconnects the key's sockets on every instance at once, after an unauthorized error event", async () => {
      const key = await newKey();
      const onA = await open(a, key.key);
      const onB = await open(b, key.key);
      expect(await onB.call('message', { message: 'Where is order 1001?' })).toEqual({
        conversation_id: expect.any(String),
        run_id: expect.any(String),
      });
      await onB.waitFor((e) => e.name === 'done');
      const closedA = disconnection(onA);
      const closedB = disconnection(onB);
      const revokedAt = performance.now();

      expect((await a.request('DELETE', `/v1/admin/api-keys/${key.id}`, { key: a.adminKey })).status).toBe(
        204,
      );

      for (const closed of [await closedA, await closedB]) {
        expect(closed.reason).toBe('io server disconnect');
        expect(closed.errors).toEqual([{ type: 'unauthorized', message: expect.stringMatching(/revoked/) }]);
        expect(closed.at - revokedAt).toBeLessThan(1_500);
      }
      expect((await connectError(b.url, key.key)).message).toBe('unauthorized');
    });

    it('disconnects within API_KEY_CACHE_TTL_MS when the broadcast never came (revoked in the database)', async () => {
      const ttlMs = 1_000;
      const c = await startTestApp({ ...LIMITS, API_KEY_CACHE_TTL_MS: String(ttlMs) });
      try {
        const key = await newKey();
        const s = await open(c, key.key);
        const closed = disconnection(s);
        const revokedAt = performance.now();
        await db.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [key.id]);

        const { reason, at, errors } = await closed;
        expect(reason).toBe('io server disconnect');
        expect(errors).toEqual([{ type: 'unauthorized', message: expect.stringMatching(/revoked/) }]);
        // One check interval (the TTL) at most, plus the query and the network.
        expect(at - revokedAt).toBeLessThan(ttlMs + 400);
      } finally {
        await c.close();
      }
    });

    it('leaves the sockets of other keys connected', async () => {
      const [revoked, kept] = [await newKey(), await newKey()];
      const gone = await open(a, revoked.key);
      const stays = await open(a, kept.key);
      const closed = disconnection(gone);
      await a.request('DELETE', `/v1/admin/api-keys/${revoked.id}`, { key: a.adminKey });
      await closed;
      expect(stays.socket.connected).toBe(true);
      expect(await stays.call('message', { message: 'Where is order 1001?' })).toEqual({
        conversation_id: expect.any(String),
        run_id: expect.any(String),
      });
      await stays.waitFor((e) => e.name === 'done');
    });
  });

  describe('rate limit', () => {
    it('counts socket messages and REST requests of a key against one budget, across instances', async () => {
      const key = await newKey();
      const s = await open(b, key.key);
      for (const app of [a, b, a])
        expect((await app.request('GET', '/v1/agents', { key: key.key })).status).toBe(200);
      for (let i = 0; i < 2; i++) {
        expect(await s.call('message', { message: 'Where is order 1001?' })).toEqual({
          conversation_id: expect.any(String),
          run_id: expect.any(String),
        });
      }
      expect((await b.request('GET', '/v1/tools', { key: key.key })).status).toBe(200);

      // Six spent: the seventh message is refused through its acknowledgement, and REST refuses too.
      const refused = await s.call('message', { message: 'One more?' });
      expect(refused).toEqual({
        error: {
          type: 'rate_limited',
          message: expect.stringMatching(/6 requests per 60 s/),
          retry_after: expect.any(Number),
        },
      });
      expect(refused.error.retry_after).toBeGreaterThanOrEqual(1);
      expect(refused.error.retry_after).toBeLessThanOrEqual(60);
      const rest = await a.request('GET', '/v1/agents', { key: key.key });
      expect(rest.status).toBe(429);
      expect(rest.body.error.type).toBe('rate_limited');

      // Without a callback the refusal is an `error` event; the socket stays open.
      s.socket.emit('message', { message: 'And another?' });
      const event = await s.waitFor((e) => e.name === 'error');
      expect(event.payload).toEqual({
        type: 'rate_limited',
        message: expect.stringMatching(/6 requests per 60 s/),
        retry_after: expect.any(Number),
      });
      expect(s.socket.connected).toBe(true);
      await eventually(async () => expect(s.named('done')).toHaveLength(2));
    });

    it('answers REST 429 after socket messages alone spent the budget', async () => {
      const key = await newKey();
      const s = await open(a, key.key);
      for (let i = 0; i < 6; i++) s.socket.emit('message', { message: `Message ${i}` });
      await eventually(async () => expect(s.named('done')).toHaveLength(6));
      expect(s.named('error')).toEqual([]);
      expect((await b.request('GET', '/v1/agents', { key: key.key })).status).toBe(429);
    });
  });

  describe('connections per key', () => {
    it('refuses the key its fourth socket across instances with too_many_connections; closing one frees a slot', async () => {
      const key = await newKey();
      const first = await open(a, key.key);
      await open(b, key.key);
      await open(a, key.key);

      for (const app of [a, b]) {
        const error = (await connectError(app.url, key.key)) as Error & { data?: unknown };
        expect(error.message).toBe('too_many_connections');
        expect(error.data).toEqual({
          type: 'too_many_connections',
          message: expect.stringMatching(/3 open sockets/),
        });
      }
      // Another key of the same tenant has slots of its own.
      await open(b, (await newKey()).key);

      first.close();
      await eventually(async () => {
        const s = await connectSocket(b.url, key.key);
        sockets.push(s);
      });
      expect((await connectError(a.url, key.key)).message).toBe('too_many_connections');
    });

    it('frees the slots of an instance that died without closing its sockets once their lease lapses', async () => {
      const key = await newKey();
      const limit = a.app.get(SocketConnectionLimit);
      for (const ghost of ['ghost-1', 'ghost-2', 'ghost-3']) {
        expect(await limit.reserve(key.id, ghost, 300)).toBe(true);
      }
      expect((await connectError(a.url, key.key)).message).toBe('too_many_connections');
      await new Promise((resolve) => setTimeout(resolve, 350));
      await open(a, key.key);
    });
  });
});

/** Retries `attempt` until it succeeds (a released slot reaches Redis a moment after the client closed). */
async function eventually(attempt: () => Promise<void>, timeoutMs = 2_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
