// Text PostgreSQL cannot store, hostile nesting, inexact query numbers and requests Node's HTTP parser refuses are
// all answered at the edge: 400 (or 431) with the envelope and an X-Request-ID, before anything runs.
import { connect } from 'node:net';
import type { DataSource } from 'typeorm';
import { startTestApp, TestApp } from './support/app';
import { connectSocket } from './support/socket';
import { openTestDataSource } from './support/database';

/** Sends raw bytes and returns the raw answer (the server closes the connection after it). */
function rawExchange(url: string, payload: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(payload));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('close', () => resolve(answer));
    socket.on('error', (error) => (answer ? resolve(answer) : reject(error)));
  });
}

function parseRaw(answer: string) {
  const [head, body] = answer.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(
    lines.map((line) => [
      line.slice(0, line.indexOf(':')).toLowerCase(),
      line.slice(line.indexOf(':') + 1).trim(),
    ]),
  );
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) };
}

describe('validation at the edge', () => {
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    t = await startTestApp();
    db = await openTestDataSource();
  });
  afterAll(async () => {
    await t.close();
    await db.destroy();
  });

  const rowsOf = async (table: string) =>
    Number(
      (await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = $1`, [t.tenantId]))[0].n,
    );

  const expectRefused = (res: { status: number; body: any; headers: Headers }, field: string) => {
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      type: 'validation_error',
      details: expect.arrayContaining([expect.objectContaining({ field })]),
      request_id: res.headers.get('x-request-id'),
    });
  };

  describe('text PostgreSQL cannot store', () => {
    it.each([
      ['a NUL in the message', 'Where is order 1001?\u0000', 'message'],
      ['a lone surrogate in the message', 'Where is \uD83D order 1001?', 'message'],
    ])(
      'refuses %s of a turn before it runs: no model call, no ticket, no conversation',
      async (_what, message, field) => {
        for (const path of ['/v1/chat', '/v1/chat/stream']) {
          const res = await t.request('POST', path, {
            json: { message },
            headers: { 'idempotency-key': 'edge-1' },
          });
          expectRefused(res, field);
        }
        expect(await rowsOf('conversations')).toBe(0);
        expect(await rowsOf('llm_calls')).toBe(0);
        expect(await rowsOf('support_tickets')).toBe(0);
        expect(await rowsOf('idempotency_keys')).toBe(0);
      },
    );

    it('names the field at any depth of metadata, keys included', async () => {
      const deepValue = await t.request('POST', '/v1/conversations', {
        json: { agent_name: 'support', metadata: { customer: { notes: ['fine', 'bad\u0000'] } } },
      });
      expectRefused(deepValue, 'metadata.customer.notes.1');
      const badKey = await t.request('POST', '/v1/conversations', {
        json: { agent_name: 'support', metadata: { customer: { ['\uDC00id']: 1 } } },
      });
      expectRefused(badKey, 'metadata.customer');
      const title = await t.request('POST', '/v1/conversations', {
        json: { agent_name: 'support', title: '\uD800' },
      });
      expectRefused(title, 'title');
      expect(await rowsOf('conversations')).toBe(0);
    });

    it('refuses it in a task instruction and an API key name', async () => {
      const task = await t.request('POST', '/v1/tasks', {
        json: { agent_name: 'support', instruction: 'Check order 1001\u0000' },
      });
      expectRefused(task, 'instruction');
      expect(await rowsOf('tasks')).toBe(0);
      const key = await t.request('POST', '/v1/admin/api-keys', {
        json: { tenant: t.tenantId, role: 'user', name: 'billing\uD800' },
        key: t.adminKey,
      });
      expectRefused(key, 'name');
      expect(await rowsOf('api_keys')).toBe(2);
    });

    it('refuses it in a socket message before the turn runs', async () => {
      const socket = await connectSocket(t.url, t.userKey);
      try {
        const ack = await socket.call('message', { message: 'Where is order 1001?\u0000' });
        expect(ack.error).toMatchObject({ type: 'validation_error' });
        const nested = await socket.call('message', {
          message: 'hi',
          agent_name: JSON.parse(`${'['.repeat(100)}"support"${']'.repeat(100)}`),
        });
        expect(nested.error).toMatchObject({ type: 'validation_error' });
        expect(await rowsOf('conversations')).toBe(0);
      } finally {
        socket.close();
      }
    });

    it('refuses it in a query string', async () => {
      const res = await t.request('GET', '/v1/tasks?status=queued%00');
      expectRefused(res, 'status');
    });

    it('still accepts CJK, emoji and other valid Unicode', async () => {
      const res = await t.request('POST', '/v1/conversations', {
        json: { agent_name: 'support', title: '订单 😀', metadata: { 顧客: '👍🏽' } },
      });
      expect(res.status).toBe(201);
      expect(res.body.title).toBe('订单 😀');
    });
  });

  describe('hostile shapes and numbers', () => {
    it('refuses a body nested 2,000 levels deep with 400, not 500', async () => {
      const raw = `{"agent_name":"support","metadata":${'{"a":'.repeat(2_000)}1${'}'.repeat(2_000)}}`;
      const res = await t.request('POST', '/v1/conversations', { raw });
      expectRefused(res, 'metadata');
      expect(res.body.error.message).toContain('nested deeper than 64');
      const array = await t.request('POST', '/v1/chat', { raw: `${'['.repeat(5_000)}${']'.repeat(5_000)}` });
      expect(array.status).toBe(400);
    });

    it.each(['/v1/conversations', '/v1/tasks'])('refuses ?page=100000000000000000000 on %s', async (path) => {
      const res = await t.request('GET', `${path}?page=100000000000000000000`);
      expectRefused(res, 'page');
      expectRefused(await t.request('GET', `${path}?page=1e300`), 'page');
      expect((await t.request('GET', `${path}?page=9007199254740991`)).status).toBe(200);
    });
  });

  describe("requests Node's HTTP parser refuses", () => {
    it('answers a 60 KB header with 431 in the envelope, with an X-Request-ID', async () => {
      const answer = parseRaw(
        await rawExchange(
          t.url,
          `GET /v1/agents HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(60_000)}\r\n\r\n`,
        ),
      );
      expect(answer.status).toBe(431);
      expect(answer.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(answer.headers['content-type']).toContain('application/json');
      expect(answer.body).toEqual({
        error: {
          type: 'payload_too_large',
          message: expect.any(String),
          request_id: answer.headers['x-request-id'],
        },
      });
    });

    it('answers a request with bare LF line endings with 400 in the envelope, with an X-Request-ID', async () => {
      const answer = parseRaw(await rawExchange(t.url, 'GET /v1/agents HTTP/1.1\nHost: x\n\n'));
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({
        type: 'validation_error',
        request_id: answer.headers['x-request-id'],
      });
    });

    it('answers a URL the router cannot decode with 400 in the envelope', async () => {
      const res = await t.request('GET', '/v1/conversations/%E0%A4%A');
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({
        type: 'validation_error',
        request_id: res.headers.get('x-request-id'),
      });
    });
  });
});
