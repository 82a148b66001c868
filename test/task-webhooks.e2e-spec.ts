// Task webhooks end to end, with the queue consumers inside the API process (RUN_WORKERS_IN_API, the
// single-machine mode) and the offline model: signed deliveries to a loopback receiver, retries, no redirects,
// the SSRF guard at creation and at delivery, and the Bull Board behind an admin key.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { DataSource } from 'typeorm';
import { WebhookUrlPolicy } from '@lib/tasks';
import { startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';
import { removeQueueKeys, testQueuePrefix, waitForStatus, waitUntil } from './support/tasks';

jest.setTimeout(30_000);

/** The README's verification snippet, as a receiver would write it. */
function verifySignature(secret: string, headers: IncomingHttpHeaders, rawBody: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false; // too old: refuse replays
  const digest = createHmac('sha256', key).update(`${id}.${timestamp}.${rawBody}`).digest('base64');
  const expected = Buffer.from(`v1,${digest}`);
  return String(headers['webhook-signature'])
    .split(' ')
    .some(
      (candidate) =>
        candidate.length === expected.length && timingSafeEqual(Buffer.from(candidate), expected),
    );
}

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on loopback that answers the scripted statuses in turn (then 200). */
class Receiver {
  readonly received: Received[] = [];
  private readonly answers: Array<{ status: number; location?: string }> = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<Receiver> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const receiver = new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        receiver.received.push({ path: req.url ?? '', headers: req.headers, body });
        const answer = receiver.answers.shift() ?? { status: 200 };
        res.writeHead(answer.status, answer.location ? { location: answer.location } : {});
        res.end('ok');
      });
    });
    return receiver;
  }

  answer(...answers: Array<{ status: number; location?: string }>): void {
    this.answers.push(...answers);
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('task webhooks and the queue board (consumers in the API process)', () => {
  const prefix = testQueuePrefix('webhooks');
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  let t: TestApp;
  let db: DataSource;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await Receiver.start();
    t = await startTestApp({
      RUN_WORKERS_IN_API: 'true',
      QUEUE_PREFIX: prefix,
      WEBHOOK_SECRET: secret,
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      WEBHOOK_BACKOFF_MS: '100',
      WEBHOOK_MAX_ATTEMPTS: '3',
      WEBHOOK_TIMEOUT_MS: '2000',
    });
    db = await openTestDataSource();
  });

  afterAll(async () => {
    await db?.destroy();
    await t?.close();
    await receiver?.stop();
    await removeQueueKeys(prefix);
  });

  const getTask = (id: string) => t.request('GET', `/v1/tasks/${id}`);
  const createTask = (webhookUrl?: string) =>
    t.request('POST', '/v1/tasks', {
      json: { agent_name: 'support', instruction: 'Where is order 1001?', webhook_url: webhookUrl },
    });
  const deliveries = (taskId: string) =>
    db.query(
      `SELECT webhook_id, event, attempt, delivered, status_code, error, duration_ms, created_at
         FROM webhook_deliveries WHERE task_id = $1 ORDER BY attempt`,
      [taskId],
    );

  it('runs tasks in the API process when RUN_WORKERS_IN_API is on', async () => {
    const created = await createTask();
    expect(created.status).toBe(202);
    const done = await waitForStatus(getTask, created.body.task_id, ['completed', 'failed']);
    expect(done).toMatchObject({ status: 'completed', progress: 1, attempts: 1 });
    expect(done.result).toContain('[offline-demo]');
  });

  it('POSTs a signed task.completed event, retries after a 500 with the same id and body, and records every attempt', async () => {
    receiver.answer({ status: 500 });
    const created = await createTask(`${receiver.url}/hooks/retry`);
    expect(created.status).toBe(202);
    const id = created.body.task_id;
    const done = await waitForStatus(getTask, id, ['completed']);
    const attempts = await waitUntil(
      async () => receiver.at('/hooks/retry'),
      (received) => received.length >= 2,
    );
    expect(attempts).toHaveLength(2);
    const [first, second] = attempts;
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(first.headers['webhook-id']).toMatch(/^msg_/);
    expect(second.body).toBe(first.body);
    for (const attempt of attempts) {
      expect(attempt.headers['content-type']).toBe('application/json');
      expect(attempt.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(verifySignature(secret, attempt.headers, attempt.body)).toBe(true);
      // The Standard Webhooks library accepts it too.
      expect(() =>
        new Webhook(secret).verify(attempt.body, attempt.headers as Record<string, string>),
      ).not.toThrow();
    }
    expect(verifySignature(secret, first.headers, first.body.replace('completed', 'failed'))).toBe(false);
    expect(JSON.parse(first.body)).toEqual({ event: 'task.completed', task: done });

    const rows = await waitUntil(
      () => deliveries(id),
      (r) => r.length >= 2,
    );
    expect(rows).toEqual([
      expect.objectContaining({
        event: 'task.completed',
        attempt: 1,
        delivered: false,
        status_code: 500,
        error: 'The receiver answered 500.',
      }),
      expect.objectContaining({ attempt: 2, delivered: true, status_code: 200, error: null }),
    ]);
    expect(rows[0].webhook_id).toBe(first.headers['webhook-id']);
    expect(rows[1].created_at.getTime()).toBeGreaterThanOrEqual(rows[0].created_at.getTime());
  });

  it('does not follow redirects: a 3xx is a failed attempt, retried at the original URL', async () => {
    receiver.answer({ status: 302, location: `${receiver.url}/hooks/elsewhere` });
    const created = await createTask(`${receiver.url}/hooks/redirect`);
    const id = created.body.task_id;
    const rows = await waitUntil(
      () => deliveries(id),
      (r) => r.some((row: { delivered: boolean }) => row.delivered),
    );
    expect(rows).toEqual([
      expect.objectContaining({
        attempt: 1,
        delivered: false,
        status_code: 302,
        error: expect.stringMatching(/redirect/),
      }),
      expect.objectContaining({ attempt: 2, delivered: true, status_code: 200 }),
    ]);
    expect(receiver.at('/hooks/elsewhere')).toHaveLength(0);
    expect(receiver.at('/hooks/redirect')).toHaveLength(2);
  });

  it.each([
    ['a loopback name not on the allow-list', 'http://localhost:8080/hook'],
    ['IPv6 loopback', 'http://[::1]:8080/hook'],
    ['IPv4 loopback written as IPv6', 'http://[::ffff:127.0.0.1]/hook'],
    ['a private address (10/8)', 'http://10.1.2.3/hook'],
    ['a private address (172.16/12)', 'http://172.16.5.4/hook'],
    ['a private address (192.168/16)', 'http://192.168.1.10/hook'],
    ['a carrier-grade NAT address', 'http://100.64.0.1/hook'],
    ['the cloud metadata address', 'http://169.254.169.254/latest/meta-data/'],
    ['the IPv6 cloud metadata address', 'http://[fd00:ec2::254]/latest/meta-data/'],
    ['a link-local address', 'http://[fe80::1]/hook'],
    ['the unspecified address', 'http://0.0.0.0:8080/hook'],
    ['a multicast address', 'http://224.0.0.1/hook'],
    ['credentials in the URL', 'http://user:secret@127.0.0.1/hook'],
    ['another scheme', 'ftp://example.com/hook'],
  ])('refuses a webhook_url to %s with 400', async (_what, url) => {
    const before = await db.query(`SELECT count(*)::int AS n FROM tasks WHERE tenant_id = $1`, [t.tenantId]);
    const res = await createTask(url);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      type: 'validation_error',
      details: [{ field: 'webhook_url', message: expect.any(String) }],
    });
    const after = await db.query(`SELECT count(*)::int AS n FROM tasks WHERE tenant_id = $1`, [t.tenantId]);
    expect(after[0].n).toBe(before[0].n);
  });

  it('re-checks the address at delivery: a host that resolves to loopback by then is refused and not retried', async () => {
    const policy = t.app.get(WebhookUrlPolicy, { strict: false });
    let lookups = 0;
    // DNS rebinding: public when the task is created, loopback when the webhook is sent.
    policy.useLookup(async () => {
      lookups += 1;
      return [{ address: lookups === 1 ? '93.184.216.34' : '127.0.0.1', family: 4 }];
    });
    try {
      const port = new URL(receiver.url).port;
      const created = await createTask(`http://rebind.test:${port}/hooks/rebind`);
      expect(created.status).toBe(202);
      const id = created.body.task_id;
      const rows = await waitUntil(
        () => deliveries(id),
        (r) => r.length >= 1,
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await deliveries(id)).toEqual([
        expect.objectContaining({
          attempt: 1,
          delivered: false,
          status_code: null,
          error: expect.stringMatching(/refused.*127\.0\.0\.1, a loopback address/),
        }),
      ]);
      expect(rows).toHaveLength(1);
      expect(receiver.at('/hooks/rebind')).toHaveLength(0);
    } finally {
      policy.useLookup(undefined);
    }
  });

  describe('the queue board at /admin/queues', () => {
    it('answers 401 (with a Basic challenge) without a key and 403 to a user key', async () => {
      const anonymous = await t.request('GET', '/admin/queues', { key: null });
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm="queues"/);
      expect(anonymous.body.error).toMatchObject({ type: 'unauthorized', request_id: expect.any(String) });
      const user = await t.request('GET', '/admin/queues/api/queues', { key: t.userKey });
      expect(user.status).toBe(403);
      expect(user.body.error.type).toBe('forbidden');
      const wrong = await t.request('GET', '/admin/queues', { key: 'ak_live_not-a-real-key-at-all' });
      expect(wrong.status).toBe(401);
    });

    it('shows both queues to an admin key, as Bearer or as the Basic password', async () => {
      const page = await t.request('GET', '/admin/queues', { key: t.adminKey });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      const basic = `Basic ${Buffer.from(`admin:${t.adminKey}`).toString('base64')}`;
      const api = await t.request('GET', '/admin/queues/api/queues', {
        key: null,
        headers: { authorization: basic },
      });
      expect(api.status).toBe(200);
      const names = api.body.queues.map((q: { name: string }) => q.name);
      expect(names).toEqual(expect.arrayContaining(['agent-tasks', 'webhooks']));
    });
  });
});
