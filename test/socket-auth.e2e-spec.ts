// The Socket.IO handshake check with the app's real key store: what the /chat gateway mounts.
import { createServer, Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io, Socket as ClientSocket } from 'socket.io-client';
import { SocketAuthenticator } from '@lib/auth';
import { startTestApp, TestApp } from './support/app';

describe('the Socket.IO handshake check with real API keys', () => {
  let t: TestApp;
  let http: HttpServer;
  let server: Server;
  let url: string;
  const clients: ClientSocket[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    http = createServer();
    server = new Server(http);
    const chat = server.of('/chat');
    chat.use(t.app.get(SocketAuthenticator).middleware() as unknown as Parameters<typeof chat.use>[0]);
    chat.on('connection', (socket) => {
      socket.on('whoami', (ack: (data: unknown) => void) => ack(socket.data.principal));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.disconnect();
  });

  afterAll(async () => {
    await server.close();
    await t.close();
  });

  const connect = (token?: unknown) => {
    const client = io(`${url}/chat`, {
      reconnection: false,
      transports: ['websocket'],
      auth: token === undefined ? {} : { token },
    });
    clients.push(client);
    return new Promise<{ client: ClientSocket; error?: Error }>((resolve) => {
      client.once('connect', () => resolve({ client }));
      client.once('connect_error', (error) => resolve({ client, error }));
    });
  };

  it("admits a user key and knows the caller's tenant", async () => {
    const { client, error } = await connect(t.userKey);
    expect(error).toBeUndefined();
    expect(await client.emitWithAck('whoami')).toEqual({
      apiKeyId: t.userKeyId,
      tenantId: t.tenantId,
      role: 'user',
      name: 'e2e user',
    });
  });

  it('refuses a missing, malformed or unknown token with connect_error "unauthorized"', async () => {
    for (const token of [undefined, 'nope', 'ak_live_unknownunknownunknownunknownunknownunknow']) {
      const { error } = await connect(token);
      expect([token, error?.message]).toEqual([token, 'unauthorized']);
    }
  });

  it('refuses a revoked key', async () => {
    const issued = await t.request('POST', '/v1/admin/api-keys', {
      key: t.adminKey,
      json: { tenant: t.tenantId, role: 'user', name: 'socket' },
    });
    expect((await connect(issued.body.key)).error).toBeUndefined();
    await t.request('DELETE', `/v1/admin/api-keys/${issued.body.id}`, { key: t.adminKey });
    const { error } = await connect(issued.body.key);
    expect(error?.message).toBe('unauthorized');
  });
});
