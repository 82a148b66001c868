// The socket guard on a real Socket.IO server and client over loopback, with in-memory stand-ins for the key store,
// the connection slots and the rate-limit counter (their Redis and PostgreSQL sides are in test/socket-limits).
import { Logger } from '@nestjs/common';
import { createServer, Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io, Socket as ClientSocket } from 'socket.io-client';
import { AppConfig, RateLimitedError, UnauthorizedError } from '@lib/core';
import type { ApiKeyService } from './api-key.service';
import { KeyRateLimit, rateLimitedError } from './key-rate-limit';
import type { Principal } from './principal';
import { SocketAuthenticator } from './socket-authenticator';
import type { SocketConnectionLimit } from './socket-connection-limit';
import { REVOKED_KEY_MESSAGE, SocketGuard, TOO_MANY_CONNECTIONS } from './socket-guard';

const TOKENS: Record<string, Principal> = {
  ak_live_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: {
    apiKeyId: 'k1',
    tenantId: 'acme',
    role: 'user',
    name: 'a',
  },
  ak_live_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb: {
    apiKeyId: 'k2',
    tenantId: 'acme',
    role: 'user',
    name: 'b',
  },
};
const [KEY_1, KEY_2] = Object.keys(TOKENS);

/** The key store: tokens, revocations (broadcast or silent) and a database outage on demand. */
class KeyStore {
  revoked = new Set<string>();
  databaseDown = false;
  queries = 0;
  private readonly listeners = new Set<(id: string) => void>();

  async authenticate(token: unknown): Promise<Principal> {
    const principal = TOKENS[token as string];
    if (!principal || this.revoked.has(principal.apiKeyId!))
      throw new UnauthorizedError('The API key is not valid.');
    return principal;
  }

  /** No key is trusted from an earlier check here: every handshake goes through authenticate(). */
  isTrusted(): boolean {
    return false;
  }

  onRevoked(listener: (id: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async activeKeyIds(ids: readonly string[]): Promise<Set<string>> {
    this.queries += 1;
    if (this.databaseDown) throw new Error('connect ECONNREFUSED');
    return new Set(ids.filter((id) => !this.revoked.has(id)));
  }

  /** Revoked and broadcast, as ApiKeyService.revoke does; `broadcast: false` is a lost Redis message. */
  revoke(id: string, { broadcast }: { broadcast: boolean }): void {
    this.revoked.add(id);
    if (broadcast) for (const listener of this.listeners) listener(id);
  }
}

/** The slots of each key, as the Redis set holds them. */
class Slots {
  held = new Map<string, Set<string>>();
  renewals: Array<{ byKey: Map<string, string[]>; leaseMs: number }> = [];
  limit = 2;
  get enabled(): boolean {
    return this.limit > 0;
  }
  async reserve(apiKeyId: string, socketId: string): Promise<boolean> {
    const held = this.held.get(apiKeyId) ?? new Set();
    if (held.size >= this.limit) return false;
    this.held.set(apiKeyId, held.add(socketId));
    return true;
  }
  async release(apiKeyId: string, socketId: string): Promise<void> {
    this.held.get(apiKeyId)?.delete(socketId);
  }
  async renew(byKey: ReadonlyMap<string, readonly string[]>, leaseMs: number): Promise<void> {
    this.renewals.push({ byKey: new Map([...byKey].map(([k, ids]) => [k, [...ids]])), leaseMs });
  }
}

/** The REST counter: a budget per key, spent by REST and sockets alike. */
class Budget {
  spent = new Map<string, number>();
  async increment(key: string, ttl: number, limit: number) {
    const hits = (this.spent.get(key) ?? 0) + 1;
    this.spent.set(key, hits);
    return {
      totalHits: hits,
      timeToExpire: 60,
      isBlocked: hits > limit,
      timeToBlockExpire: hits > limit ? 42 : 0,
    };
  }
}

function configWith(overrides: Partial<AppConfig>): AppConfig {
  return Object.assign(new AppConfig(), {
    apiKeyCacheTtlMs: 250,
    rateLimitRequests: 3,
    rateLimitWindowSeconds: 60,
    socketMaxConnectionsPerKey: 2,
    ...overrides,
  });
}

/** Every address may try again: the per-address limit of unauthenticated requests is tested on its own. */
const OPEN_DOOR = {
  clientAddress: () => '127.0.0.1',
  assertAllowed: async () => undefined,
  recordFailure: async () => undefined,
};

function guardWith(keys: KeyStore, slots: Slots, budget: Budget, config = configWith({})): SocketGuard {
  const asKeys = keys as unknown as ApiKeyService;
  return new SocketGuard(
    new SocketAuthenticator(asKeys, OPEN_DOOR as never),
    slots as unknown as SocketConnectionLimit,
    new KeyRateLimit(budget as never, config),
    asKeys,
    config,
  );
}

describe('SocketGuard', () => {
  let http: HttpServer;
  let server: Server;
  let url: string;
  let keys: KeyStore;
  let slots: Slots;
  let budget: Budget;
  let guard: SocketGuard;
  const clients: ClientSocket[] = [];

  beforeEach(async () => {
    keys = new KeyStore();
    slots = new Slots();
    budget = new Budget();
    guard = guardWith(keys, slots, budget);
    guard.onModuleInit();
    http = createServer();
    server = new Server(http);
    const chat = server.of('/chat');
    chat.use(guard.middleware() as unknown as Parameters<typeof chat.use>[0]);
    chat.on('connection', (socket) => {
      guard.track(socket);
      socket.on('message', async (_body: unknown, ack: (answer: unknown) => void) => {
        try {
          await guard.consumeMessage(socket);
          ack({ ok: true });
        } catch (error) {
          const e = error as RateLimitedError;
          ack({ error: { type: e.type, retry_after: e.retryAfterSeconds } });
        }
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.disconnect();
    guard.onModuleDestroy();
    await server.close();
  });

  const connect = (token: string) => {
    const client = io(`${url}/chat`, { reconnection: false, transports: ['websocket'], auth: { token } });
    clients.push(client);
    const errors: unknown[] = [];
    client.on('error', (body) => errors.push(body));
    return new Promise<{ client: ClientSocket; errors: unknown[]; error?: Error & { data?: unknown } }>(
      (resolve) => {
        client.once('connect', () => resolve({ client, errors }));
        client.once('connect_error', (error) => resolve({ client, errors, error }));
      },
    );
  };

  /** Resolves with the reason and the `error` events received before the server disconnected the client. */
  const disconnected = (socket: { client: ClientSocket; errors: unknown[] }) =>
    new Promise<{ reason: string; errors: unknown[] }>((resolve) =>
      socket.client.once('disconnect', (reason) => resolve({ reason, errors: [...socket.errors] })),
    );

  const until = async (condition: () => boolean) => {
    for (let i = 0; i < 100 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(condition()).toBe(true);
  };

  describe('the handshake', () => {
    it('refuses a bad key with "unauthorized" before taking any slot', async () => {
      const { error } = await connect('ak_live_unknownunknownunknownunknownunknownun');
      expect(error?.message).toBe('unauthorized');
      expect(slots.held.size).toBe(0);
    });

    it('refuses a key holding its maximum of sockets with too_many_connections, and not another key', async () => {
      expect((await connect(KEY_1)).error).toBeUndefined();
      expect((await connect(KEY_1)).error).toBeUndefined();
      const { error } = await connect(KEY_1);
      expect(error?.message).toBe(TOO_MANY_CONNECTIONS);
      expect(error?.data).toEqual({
        type: TOO_MANY_CONNECTIONS,
        message: expect.stringMatching(/2 open sockets/),
      });
      expect((await connect(KEY_2)).error).toBeUndefined();
    });

    it('gives the slot back when the socket disconnects', async () => {
      const first = await connect(KEY_1);
      await connect(KEY_1);
      expect(slots.held.get('k1')?.size).toBe(2);
      first.client.disconnect();
      await until(() => slots.held.get('k1')?.size === 1);
      expect(guard.openSockets('k1')).toBe(1);
      expect((await connect(KEY_1)).error).toBeUndefined();
    });
  });

  describe('revocation', () => {
    it("sends an unauthorized error event then disconnects the key's sockets when the revocation is broadcast", async () => {
      const [a, b, other] = [await connect(KEY_1), await connect(KEY_1), await connect(KEY_2)];
      const closed = [disconnected(a), disconnected(b)];
      keys.revoke('k1', { broadcast: true });
      for (const { reason, errors } of await Promise.all(closed)) {
        expect(reason).toBe('io server disconnect');
        expect(errors).toEqual([{ type: 'unauthorized', message: REVOKED_KEY_MESSAGE }]);
      }
      expect(other.client.connected).toBe(true);
      await until(() => guard.openSockets('k1') === 0 && slots.held.get('k1')?.size === 0);
    });

    it('finds a revocation whose broadcast was lost within one check interval', async () => {
      const a = await connect(KEY_1);
      const closed = disconnected(a);
      const revokedAt = Date.now();
      keys.revoke('k1', { broadcast: false });
      expect(await closed).toEqual({
        reason: 'io server disconnect',
        errors: [{ type: 'unauthorized', message: REVOKED_KEY_MESSAGE }],
      });
      expect(Date.now() - revokedAt).toBeLessThan(guard.checkIntervalMs + 150);
    });

    it('keeps the sockets open while the key store cannot be read, and says so in the log', async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const a = await connect(KEY_1);
      keys.databaseDown = true;
      keys.revoked.add('k1');
      const before = keys.queries;
      await until(() => keys.queries >= before + 2);
      expect(a.client.connected).toBe(true);
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/re-check the API keys.*ECONNREFUSED/));
      warn.mockRestore();
    });

    it('checks all the keys of open sockets in one query per interval, and none without sockets', async () => {
      await new Promise((resolve) => setTimeout(resolve, guard.checkIntervalMs + 50));
      expect(keys.queries).toBe(0);
      await Promise.all([connect(KEY_1), connect(KEY_1), connect(KEY_2)]);
      const before = keys.queries;
      await new Promise((resolve) => setTimeout(resolve, guard.checkIntervalMs * 2 + 100));
      expect(keys.queries - before).toBeGreaterThanOrEqual(1);
      expect(keys.queries - before).toBeLessThanOrEqual(3);
    });

    it('stops listening and checking once the module is destroyed', async () => {
      const a = await connect(KEY_1);
      guard.onModuleDestroy();
      const before = keys.queries;
      keys.revoke('k1', { broadcast: true });
      await new Promise((resolve) => setTimeout(resolve, guard.checkIntervalMs + 100));
      expect(keys.queries).toBe(before);
      expect(a.client.connected).toBe(true);
    });
  });

  it("renews the open sockets' slots, by key, with the lease", async () => {
    const [a, b] = [await connect(KEY_1), await connect(KEY_2)];
    await until(() => slots.renewals.length > 0);
    expect(slots.renewals[0].leaseMs).toBe(guard.leaseMs);
    expect(slots.renewals[0].byKey).toEqual(
      new Map([
        ['k1', [a.client.id]],
        ['k2', [b.client.id]],
      ]),
    );
  });

  describe('messages', () => {
    it("spend the key's REST budget and are refused with rate_limited and the retry delay past it", async () => {
      const { client } = await connect(KEY_1);
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await client.emitWithAck('message', {}));
      expect(answers).toEqual([
        { ok: true },
        { ok: true },
        { ok: true },
        { error: { type: 'rate_limited', retry_after: 42 } },
      ]);
      expect(budget.spent).toEqual(new Map([['default:key:k1', 4]]));
    });

    it('are not counted when the rate limit is off', async () => {
      const open = guardWith(keys, slots, budget, configWith({ rateLimitRequests: 0 }));
      await open.consumeMessage({ data: { principal: TOKENS[KEY_1] } });
      expect(budget.spent.size).toBe(0);
    });
  });

  it.each([
    [0, 250],
    [250, 250],
    [5_000, 5_000],
    [60_000, 10_000],
  ])('re-checks keys within API_KEY_CACHE_TTL_MS=%d: every %d ms', (ttl, interval) => {
    const g = guardWith(keys, slots, budget, configWith({ apiKeyCacheTtlMs: ttl }));
    expect(g.checkIntervalMs).toBe(interval);
    expect(g.leaseMs).toBeGreaterThanOrEqual(Math.max(30_000, 3 * interval));
  });
});

describe('rateLimitedError', () => {
  it('words the refusal like REST and never asks to wait less than a second', () => {
    const error = rateLimitedError(600, 60_000, 0);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error.message).toBe(
      'Too many requests: this API key may make 600 requests per 60 s; retry in 1 s.',
    );
    expect(error.retryAfterSeconds).toBe(1);
  });
});
