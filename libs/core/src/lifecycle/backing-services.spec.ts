import { createServer, Server } from 'node:net';
import { once } from 'node:events';
import { processEnv } from '../config/process-env';
import { BackingServiceError, checkBackingServices } from './backing-services';

// The local services the e2e tests use (see test/support/test-env.ts).
const DATABASE_URL =
  processEnv().TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/agent_backend_test';
const REDIS_URL = processEnv().TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/1';

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** A loopback server that answers every connection with `reply` (a stand-in Redis speaking RESP). */
async function replyingServer(reply: string): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.on('data', () => socket.write(reply)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

async function failure(settings: { databaseUrl: string; redisUrl: string }): Promise<BackingServiceError> {
  const error = await checkBackingServices(settings, 5_000).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BackingServiceError);
  return error as BackingServiceError;
}

// The database that does answer may be slow to answer on a busy machine: allow it its production timeout.
jest.setTimeout(15_000);

describe('checkBackingServices', () => {
  it('names PostgreSQL, its address and what to run when nothing answers on the database port', async () => {
    const port = await closedPort();
    const error = await failure({
      databaseUrl: `postgres://postgres@127.0.0.1:${port}/agent_backend`,
      redisUrl: `redis://127.0.0.1:${port}`,
    });
    expect(error.kind).toBe('no_answer');
    expect(error.message).toBe(
      `PostgreSQL does not answer at 127.0.0.1:${port} (DATABASE_URL): start it — with Docker, "npm run ` +
        'start:docker" starts PostgreSQL and Redis and then the server; without, start the local service (e.g. ' +
        '"sudo systemctl start postgresql"), then try again.',
    );
  });

  it('says the same of Redis once PostgreSQL answers', async () => {
    const port = await closedPort();
    const error = await failure({ databaseUrl: DATABASE_URL, redisUrl: `redis://localhost:${port}/7` });
    expect(error.message).toMatch(
      new RegExp(`^Redis does not answer at localhost:${port} \\(REDIS_URL\\): start it`),
    );
    expect(error.message).toContain('"sudo systemctl start redis-server"');
  });

  it('tells a refused login apart from a server that does not answer', async () => {
    const { server, port } = await replyingServer('-WRONGPASS invalid username-password pair\r\n');
    try {
      const error = await failure({
        databaseUrl: DATABASE_URL,
        redisUrl: `redis://:wrong@127.0.0.1:${port}`,
      });
      expect(error.kind).toBe('refused');
      expect(error.message).toBe(
        `Redis at 127.0.0.1:${port} refused the connection (WRONGPASS invalid username-password pair): check ` +
          'the user, password and database in REDIS_URL.',
      );
    } finally {
      server.close();
    }
  });

  it('passes when both answer, even before the database itself is created', async () => {
    const databaseUrl = new URL(DATABASE_URL);
    databaseUrl.pathname = '/agent_backend_not_created_yet';
    await expect(
      checkBackingServices({
        databaseUrl: databaseUrl.toString(),
        redisUrl: REDIS_URL,
      }),
    ).resolves.toBeUndefined();
  });
});
