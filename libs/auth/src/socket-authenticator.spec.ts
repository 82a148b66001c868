// The handshake check on a real Socket.IO server and client over loopback.
import { Logger } from '@nestjs/common';
import { createServer, Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io, Socket as ClientSocket } from 'socket.io-client';
import { AppConfig, RedisService, UnauthorizedError } from '@lib/core';
import type { ApiKeyService } from './api-key.service';
import type { Principal } from './principal';
import { HandshakeSocket, SocketAuthenticator } from './socket-authenticator';
import { UnauthenticatedLimit } from './unauthenticated-limit';

/** The per-address limit off (it needs Redis; test/unauthenticated-limit.e2e-spec.ts covers it on sockets). */
const noAddressLimit = new UnauthenticatedLimit(
  undefined as unknown as RedisService,
  Object.assign(new AppConfig(), { unauthenticatedRateLimitRequests: 0, trustProxy: false }),
);

const GOOD = 'ak_live_goodgoodgoodgoodgoodgoodgoodgoodgoodgoodgoo';
const REVOKED = 'ak_live_revokedrevokedrevokedrevokedrevokedrevoke';
const PRINCIPAL: Principal = { apiKeyId: 'k1', tenantId: 'acme', role: 'user', name: 'spa' };

/** Stands in for the database: one valid key, one revoked, and a database outage on demand. */
const keys = {
  databaseDown: false,
  isTrusted: () => false,
  async authenticate(token: unknown): Promise<Principal> {
    if (keys.databaseDown) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    if (token === undefined) throw new UnauthorizedError();
    if (token !== GOOD) throw new UnauthorizedError('The API key is not valid.');
    return PRINCIPAL;
  },
};

describe('SocketAuthenticator', () => {
  let http: HttpServer;
  let server: Server;
  let url: string;
  const clients: ClientSocket[] = [];

  beforeAll(async () => {
    http = createServer();
    server = new Server(http);
    const authenticator = new SocketAuthenticator(keys as unknown as ApiKeyService, noAddressLimit);
    const chat = server.of('/chat');
    chat.use(authenticator.middleware() as unknown as Parameters<typeof chat.use>[0]);
    chat.on('connection', (socket) => {
      socket.on('whoami', (ack: (data: unknown) => void) =>
        ack({ principal: socket.data.principal, tenantId: socket.data.tenantId }),
      );
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterEach(() => {
    jest.restoreAllMocks();
    keys.databaseDown = false;
    for (const client of clients.splice(0)) client.disconnect();
  });

  afterAll(async () => {
    await server.close();
  });

  const connect = (options: Parameters<typeof io>[1]) => {
    const client = io(`${url}/chat`, { reconnection: false, transports: ['websocket'], ...options });
    clients.push(client);
    return new Promise<{ client: ClientSocket; error?: Error & { data?: unknown } }>((resolve) => {
      client.once('connect', () => resolve({ client }));
      client.once('connect_error', (error) => resolve({ client, error }));
    });
  };

  it('admits a valid token from handshake.auth and keeps the principal in socket.data', async () => {
    const { client, error } = await connect({ auth: { token: GOOD } });
    expect(error).toBeUndefined();
    const seen = await client.emitWithAck('whoami');
    expect(seen).toEqual({ principal: PRINCIPAL, tenantId: 'acme' });
  });

  it('also takes an Authorization: Bearer handshake header', async () => {
    const { error } = await connect({ extraHeaders: { authorization: `Bearer ${GOOD}` } });
    expect(error).toBeUndefined();
  });

  it.each([
    ['no token', {}],
    ['an empty token', { auth: { token: '' } }],
    ['a wrong token', { auth: { token: 'ak_live_nottherightonenottherightonenottherighton' } }],
    ['a revoked token', { auth: { token: REVOKED } }],
    ['a token that is not a string', { auth: { token: { $ne: null } } }],
    ['a header with another scheme', { extraHeaders: { authorization: `Basic ${GOOD}` } }],
  ])('refuses %s with connect_error "unauthorized"', async (_case, options) => {
    const { client, error } = await connect(options);
    expect(error?.message).toBe('unauthorized');
    expect(error?.data).toMatchObject({ type: 'unauthorized' });
    expect(client.connected).toBe(false);
  });

  it('answers service_unavailable, not unauthorized, when the key cannot be checked', async () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    keys.databaseDown = true;
    const { error } = await connect({ auth: { token: GOOD } });
    expect(error?.message).toBe('service_unavailable');
  });

  it('reads the token the way the gateway will: auth first, then the header', () => {
    const authenticator = new SocketAuthenticator(keys as unknown as ApiKeyService, noAddressLimit);
    const socket = (auth: Record<string, unknown>, authorization?: string): HandshakeSocket => ({
      handshake: { auth, headers: authorization ? { authorization } : {} },
      data: {},
    });
    expect(authenticator.tokenOf(socket({ token: 'a' }, 'Bearer b'))).toBe('a');
    expect(authenticator.tokenOf(socket({}, 'Bearer b'))).toBe('b');
    expect(authenticator.tokenOf(socket({}))).toBeUndefined();
  });
});
