// The production entry point as a real process: the first admin key (ADMIN_API_KEY, or the local key of the
// quickstart), log lines free of keys and Authorization headers, and a first start on a machine where PostgreSQL
// or Redis is not running.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeTenantData, request } from './support/app';
import {
  buildServer,
  BuiltServer,
  runServerProcessToExit,
  startServerProcess,
} from './support/server-process';
import { testEnv } from './support/test-env';

jest.setTimeout(60_000);

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const listener = createServer().listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as { port: number };
  listener.close();
  await once(listener, 'close');
  return port;
}

describe('the server process', () => {
  let server: BuiltServer;
  let cwd: string;
  const tenants: string[] = [];

  const env = (overrides: Record<string, string | undefined>) => {
    const tenant = `test-${randomUUID()}`;
    tenants.push(tenant);
    return testEnv({ DEFAULT_TENANT: tenant, LOG_LEVEL: 'info', ...overrides });
  };

  beforeAll(() => {
    server = buildServer();
  });

  beforeEach(() => {
    cwd = mkdtempSync(join(tmpdir(), 'agent-backend-'));
  });

  afterEach(() => {
    rmSync(cwd, { recursive: true, force: true });
  });

  afterAll(async () => {
    server.remove();
    for (const tenant of tenants) await removeTenantData(tenant);
  });

  it('generates a local admin key on a first development start, saves it in .local-admin-key and reuses it after', async () => {
    const first = await startServerProcess(server, env({ NODE_ENV: 'development' }), cwd);
    const file = join(cwd, '.local-admin-key');
    let key: string;
    try {
      expect(existsSync(file)).toBe(true);
      key = readFileSync(file, 'utf8').trim();
      expect(key).toMatch(/^ak_live_[0-9A-Za-z]{43}$/);
      const announced = first.lines.find((l) => l.includes('Generated a local admin key'));
      expect(announced).toContain('.local-admin-key');
      // Development logs are readable lines (LOG_FORMAT defaults to pretty), not JSON.
      expect(announced).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: Generated a local admin key/);
      expect(announced).toContain('Authorization: Bearer $(cat .local-admin-key)');
      expect(first.lines.join('\n')).not.toContain(key);
      const chat = await request(first.url, 'POST', '/v1/chat', {
        key,
        json: { message: 'Where is order 1001?' },
      });
      expect(chat.status).toBe(200);
      const issued = await request(first.url, 'POST', '/v1/admin/api-keys', {
        key,
        json: { tenant: tenants[0], role: 'user', name: 'from the local admin' },
      });
      expect(issued.status).toBe(201);
    } finally {
      await first.stop();
    }
    const second = await startServerProcess(
      server,
      testEnv({ DEFAULT_TENANT: tenants[0], NODE_ENV: 'development', LOG_LEVEL: 'info' }),
      cwd,
    );
    try {
      expect(readFileSync(file, 'utf8').trim()).toBe(key);
      expect(second.lines.some((l) => l.includes('Local admin key in .local-admin-key'))).toBe(true);
      expect((await request(second.url, 'GET', '/v1/agents', { key })).status).toBe(200);
    } finally {
      await second.stop();
    }
  });

  it('never generates a key in production', async () => {
    const prod = await startServerProcess(server, env({ NODE_ENV: 'production', LOG_LEVEL: 'info' }), cwd);
    try {
      expect(existsSync(join(cwd, '.local-admin-key'))).toBe(false);
      expect(prod.lines.some((l) => l.includes('ADMIN_API_KEY is not set'))).toBe(true);
      expect((await request(prod.url, 'GET', '/v1/agents', { key: null })).status).toBe(401);
    } finally {
      await prod.stop();
    }
  });

  it('bootstraps an admin key from ADMIN_API_KEY, and logs no key or Authorization header at any level', async () => {
    const adminKey = `operator-chosen-${randomUUID()}`;
    const proc = await startServerProcess(server, env({ ADMIN_API_KEY: adminKey, LOG_LEVEL: 'trace' }), cwd);
    const forged = 'ak_live_forgedKeyThatLooksRealEnough0000000000000';
    let issued: string;
    try {
      const created = await request(proc.url, 'POST', '/v1/admin/api-keys', {
        key: adminKey,
        json: { tenant: tenants[tenants.length - 1], role: 'user', name: 'logged?' },
      });
      expect(created.status).toBe(201);
      issued = created.body.key;
      expect((await request(proc.url, 'GET', '/v1/agents', { key: issued })).status).toBe(200);
      expect((await request(proc.url, 'GET', '/v1/agents', { key: forged })).status).toBe(401);
      const chat = await request(proc.url, 'POST', '/v1/chat', {
        key: issued,
        json: { message: 'What is 6 * 7?' },
      });
      expect(chat.status).toBe(200);
      expect(
        (await request(proc.url, 'GET', `/v1/conversations/${randomUUID()}`, { key: issued })).status,
      ).toBe(404);
      expect((await request(proc.url, 'POST', '/v1/admin/api-keys', { key: issued, json: {} })).status).toBe(
        403,
      );
      await request(proc.url, 'GET', `/v1/agents?api_key=${forged}`, { key: null });
    } finally {
      await proc.stop();
    }
    const requestLines = proc.lines.filter((l) => l.includes('"request_id"'));
    expect(requestLines.length).toBeGreaterThanOrEqual(6);
    const all = proc.lines.join('\n');
    for (const secret of [adminKey, issued, forged]) {
      expect(all).not.toContain(secret);
      expect(all).not.toContain(secret.slice(10));
    }
    expect(all).not.toMatch(/Bearer\s+(?!\[redacted\]|\$\(cat)/);
    expect(all).not.toMatch(/"authorization"\s*:\s*"(?!\[redacted\])/i);
  });

  describe('on a machine where a backing service is not running', () => {
    const stackFrame = /^\s+at\s|\.js:\d+:\d+/;

    it('stops with one sentence naming PostgreSQL, its address and what to run', async () => {
      const port = await closedPort();
      const { code, lines } = await runServerProcessToExit(
        server,
        env({
          NODE_ENV: 'development',
          DATABASE_MIGRATE: 'true',
          DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/agent_backend`,
        }),
        cwd,
      );
      expect(code).toBe(1);
      expect(lines).toEqual([
        `The server could not start: PostgreSQL does not answer at 127.0.0.1:${port} (DATABASE_URL): start it — ` +
          'with Docker, "npm run start:docker" starts PostgreSQL and Redis and then the server; without, start the ' +
          'local service (e.g. "sudo systemctl start postgresql"), then try again.',
      ]);
      expect(lines.some((line) => stackFrame.test(line))).toBe(false);
      expect(existsSync(join(cwd, '.local-admin-key'))).toBe(false);
    });

    it('stops the same way when Redis does not answer', async () => {
      const port = await closedPort();
      const { code, lines } = await runServerProcessToExit(
        server,
        env({ NODE_ENV: 'development', REDIS_URL: `redis://127.0.0.1:${port}` }),
        cwd,
      );
      expect(code).toBe(1);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(
          `^The server could not start: Redis does not answer at 127\\.0\\.0\\.1:${port} \\(REDIS_URL\\)`,
        ),
      );
      expect(lines[0]).toContain('"npm run start:docker"');
      expect(lines[0]).toContain('"sudo systemctl start redis-server"');
    });
  });
});
