// Task webhooks end to end, with the queue consumers inside the API process (RUN_WORKERS_IN_API, the
// single-machine mode) and the offline model: signed deliveries to a loopback receiver, the outbox and its relay,
// retries along a compressed WEBHOOK_RETRY_SCHEDULE, the deliveries API, no redirects, the SSRF guard at creation
// and at delivery, the reconciler, and the Bull Board behind an admin key.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import Redis from 'ioredis';
import { Webhook } from 'standardwebhooks';
import type { DataSource } from 'typeorm';
import { ApiKeyService } from '@lib/auth';
import { Reconciler } from '@lib/tasks';
import { OutboundUrlPolicy } from '@lib/webhooks';
import { startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';
import { removeQueueKeys, testQueuePrefix, waitForStatus, waitUntil } from './support/tasks';
import { TEST_REDIS_URL } from './support/test-env';

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
  /** performance.now() when it arrived. */
  at: number;
}

interface Answer {
  status: number;
  location?: string;
  retryAfter?: string;
}

/** A webhook receiver on loopback that answers the scripted statuses in turn (then 200). */
class Receiver {
  readonly received: Received[] = [];
  private readonly answers = new Map<string, Answer[]>();
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
        const path = req.url ?? '';
        receiver.received.push({ path, headers: req.headers, body, at: performance.now() });
        const answer = receiver.answers.get(path)?.shift() ?? { status: 200 };
        res.writeHead(answer.status, {
          ...(answer.location ? { location: answer.location } : {}),
          ...(answer.retryAfter ? { 'retry-after': answer.retryAfter } : {}),
        });
        res.end('ok');
      });
    });
    return receiver;
  }

  /** The statuses `path` answers in turn, then 200. */
  answer(path: string, ...answers: Answer[]): void {
    this.answers.set(path, [...(this.answers.get(path) ?? []), ...answers]);
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
      OUTBOUND_ALLOWED_HOSTS: '127.0.0.1,flaky.test',
      // Eight hours squeezed into 600 ms: four attempts in all.
      WEBHOOK_RETRY_SCHEDULE: '100ms,200ms,300ms',
      WEBHOOK_TIMEOUT_MS: '2000',
      RECONCILE_INTERVAL_MS: '300',
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
    receiver.answer('/hooks/retry', { status: 500 });
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
    receiver.answer('/hooks/redirect', { status: 302, location: `${receiver.url}/hooks/elsewhere` });
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
    const policy = t.app.get(OutboundUrlPolicy, { strict: false });
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

  describe('the retry schedule (WEBHOOK_RETRY_SCHEDULE=100ms,200ms,300ms)', () => {
    /** Creates a task whose webhook goes to `path` on the receiver; answers its id once it has ended. */
    const finishedTask = async (path: string): Promise<string> => {
      const created = await createTask(`${receiver.url}${path}`);
      expect(created.status).toBe(202);
      await waitForStatus(getTask, created.body.task_id, ['completed']);
      return created.body.task_id;
    };
    const listDeliveries = (id: string) => t.request('GET', `/v1/tasks/${id}/deliveries`);

    it('retries 503, 500 and 502 along the schedule, with the same webhook-id and body, and lists every attempt', async () => {
      receiver.answer('/hooks/flaky', { status: 503 }, { status: 500 }, { status: 502 });
      const id = await finishedTask('/hooks/flaky');
      const received = await waitUntil(
        async () => receiver.at('/hooks/flaky'),
        (r) => r.length >= 4,
        5_000,
        'four attempts',
      );
      expect(new Set(received.map((r) => r.headers['webhook-id'])).size).toBe(1);
      expect(new Set(received.map((r) => r.body)).size).toBe(1);
      // Each wait is the schedule's delay ±10 % (a little less is impossible; more is the queue's latency).
      const gaps = received.slice(1).map((r, i) => r.at - received[i].at);
      [100, 200, 300].forEach((delay, i) => expect(gaps[i]).toBeGreaterThanOrEqual(delay * 0.9 - 5));

      const listed = await waitUntil(
        () => listDeliveries(id),
        (r) => r.body.deliveries?.length >= 4,
      );
      expect(listed.status).toBe(200);
      const webhookId = received[0].headers['webhook-id'];
      expect(listed.body.deliveries).toEqual([
        expect.objectContaining({ attempt: 1, status_code: 503, error: 'The receiver answered 503.' }),
        expect.objectContaining({ attempt: 2, status_code: 500 }),
        expect.objectContaining({ attempt: 3, status_code: 502 }),
        expect.objectContaining({ attempt: 4, status_code: 200, error: null }),
      ]);
      for (const delivery of listed.body.deliveries) {
        expect(Object.keys(delivery).sort()).toEqual(
          ['at', 'attempt', 'duration_ms', 'error', 'event', 'status_code', 'webhook_id'].sort(),
        );
        expect(delivery).toMatchObject({ webhook_id: webhookId, event: 'task.completed' });
        expect(delivery.duration_ms).toEqual(expect.any(Number));
        expect(new Date(delivery.at).toISOString()).toBe(delivery.at);
      }
    });

    it('gives up once the schedule is spent: four attempts, then no more', async () => {
      receiver.answer('/hooks/down', ...Array(6).fill({ status: 500 }));
      const id = await finishedTask('/hooks/down');
      await waitUntil(
        async () => receiver.at('/hooks/down'),
        (r) => r.length >= 4,
        5_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 800));
      expect(receiver.at('/hooks/down')).toHaveLength(4);
      expect((await listDeliveries(id)).body.deliveries.map((d: { attempt: number }) => d.attempt)).toEqual([
        1, 2, 3, 4,
      ]);
    });

    it.each([400, 404, 410, 422])('does not retry a %i', async (status) => {
      const path = `/hooks/gone-${status}`;
      receiver.answer(path, { status });
      const id = await finishedTask(path);
      await waitUntil(
        async () => receiver.at(path),
        (r) => r.length >= 1,
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(receiver.at(path)).toHaveLength(1);
      expect((await listDeliveries(id)).body.deliveries).toEqual([
        expect.objectContaining({ attempt: 1, status_code: status }),
      ]);
    });

    it('retries a 408', async () => {
      receiver.answer('/hooks/slow', { status: 408 });
      await finishedTask('/hooks/slow');
      await waitUntil(
        async () => receiver.at('/hooks/slow'),
        (r) => r.length >= 2,
      );
    });

    it('waits as long as a 429 asks (Retry-After) before the next attempt', async () => {
      receiver.answer('/hooks/busy', { status: 429, retryAfter: '1' });
      await finishedTask('/hooks/busy');
      const [first, second] = await waitUntil(
        async () => receiver.at('/hooks/busy'),
        (r) => r.length >= 2,
        5_000,
      );
      // The schedule alone would have retried after about 100 ms.
      expect(second.at - first.at).toBeGreaterThanOrEqual(990);
      expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    });

    it('retries a DNS failure at delivery (a resolver hiccup is not a refusal)', async () => {
      const policy = t.app.get(OutboundUrlPolicy, { strict: false });
      let lookups = 0;
      policy.useLookup(async () => {
        lookups += 1;
        if (lookups === 2)
          throw Object.assign(new Error('getaddrinfo EAI_AGAIN flaky.test'), { code: 'EAI_AGAIN' });
        return [{ address: '127.0.0.1', family: 4 }];
      });
      try {
        const port = new URL(receiver.url).port;
        const created = await createTask(`http://flaky.test:${port}/hooks/dns`);
        expect(created.status).toBe(202);
        const id = created.body.task_id;
        const listed = await waitUntil(
          () => listDeliveries(id),
          (r) => r.body.deliveries?.length >= 2,
        );
        expect(listed.body.deliveries).toEqual([
          expect.objectContaining({
            attempt: 1,
            status_code: null,
            error: expect.stringMatching(/did not resolve.*EAI_AGAIN/),
          }),
          expect.objectContaining({ attempt: 2, status_code: 200, error: null }),
        ]);
        expect(receiver.at('/hooks/dns')).toHaveLength(1);
      } finally {
        policy.useLookup(undefined);
      }
    });
  });

  describe('the deliveries API', () => {
    const listDeliveries = (id: string, key?: string) =>
      t.request('GET', `/v1/tasks/${id}/deliveries`, { key });
    const redeliver = (id: string, key?: string) =>
      t.request('POST', `/v1/tasks/${id}/deliveries/redeliver`, { key });

    it('redelivers a delivered event: 202, a new attempt with the same webhook-id and body', async () => {
      const created = await createTask(`${receiver.url}/hooks/again`);
      const id = created.body.task_id;
      await waitUntil(
        async () => receiver.at('/hooks/again'),
        (r) => r.length >= 1,
      );
      await waitUntil(
        () => listDeliveries(id),
        (r) => r.body.deliveries?.length >= 1,
      );
      const res = await redeliver(id);
      expect(res.status).toBe(202);
      const [first] = receiver.at('/hooks/again');
      expect(res.body).toEqual({
        webhook_id: first.headers['webhook-id'],
        event: 'task.completed',
        attempt: 2,
      });
      const [, second] = await waitUntil(
        async () => receiver.at('/hooks/again'),
        (r) => r.length >= 2,
      );
      expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
      expect(second.body).toBe(first.body);
      const listed = await waitUntil(
        () => listDeliveries(id),
        (r) => r.body.deliveries?.length >= 2,
      );
      expect(listed.body.deliveries.map((d: { attempt: number }) => d.attempt)).toEqual([1, 2]);
    });

    it('redelivers an event that was given up, once', async () => {
      receiver.answer('/hooks/fixed', { status: 404 });
      const created = await createTask(`${receiver.url}/hooks/fixed`);
      const id = created.body.task_id;
      await waitUntil(
        () => listDeliveries(id),
        (r) => r.body.deliveries?.length >= 1,
      );
      expect((await redeliver(id)).status).toBe(202);
      const listed = await waitUntil(
        () => listDeliveries(id),
        (r) => r.body.deliveries?.length >= 2,
      );
      expect(listed.body.deliveries).toEqual([
        expect.objectContaining({ attempt: 1, status_code: 404 }),
        expect.objectContaining({ attempt: 2, status_code: 200 }),
      ]);
    });

    it('answers an empty list, and 404 to a redelivery, for a task without webhook_url', async () => {
      const created = await createTask();
      await waitForStatus(getTask, created.body.task_id, ['completed']);
      expect((await listDeliveries(created.body.task_id)).body).toEqual({ deliveries: [] });
      const res = await redeliver(created.body.task_id);
      expect(res.status).toBe(404);
      expect(res.body.error.type).toBe('not_found');
    });

    it("is scoped to the tenant: another tenant's task is 404; a non-UUID id is 400", async () => {
      const created = await createTask(`${receiver.url}/hooks/private`);
      const id = created.body.task_id;
      await waitForStatus(getTask, id, ['completed']);
      const other = await t.app
        .get(ApiKeyService)
        .create({ tenant: `${t.tenantId}-other`, role: 'user', name: 'other tenant' });
      try {
        for (const res of [await listDeliveries(id, other.key), await redeliver(id, other.key)]) {
          expect(res.status).toBe(404);
          expect(res.body.error).toMatchObject({ type: 'not_found', request_id: expect.any(String) });
        }
        expect((await listDeliveries('not-a-uuid')).status).toBe(400);
        expect((await redeliver('not-a-uuid')).body.error.type).toBe('validation_error');
      } finally {
        await db.query(`DELETE FROM api_keys WHERE id = $1`, [other.id]);
      }
    });

    it('documents both routes with their response schemas', async () => {
      const doc = await t.request('GET', '/docs-json', { key: null });
      const paths = doc.body.paths;
      expect(paths['/v1/tasks/{id}/deliveries'].get.responses['200']).toBeDefined();
      expect(paths['/v1/tasks/{id}/deliveries/redeliver'].post.responses['202']).toBeDefined();
      expect(Object.keys(doc.body.components.schemas.WebhookDeliveryDto.properties).sort()).toEqual(
        ['at', 'attempt', 'duration_ms', 'error', 'event', 'status_code', 'webhook_id'].sort(),
      );
    });
  });

  describe('the outbox and the reconciler', () => {
    const webhooksQueue = () => t.app.get<Queue>(getQueueToken('webhooks'), { strict: false });
    const tasksQueue = () => t.app.get<Queue>(getQueueToken('agent-tasks'), { strict: false });

    it('still delivers when the hand-over to the queue fails after the task ended (Redis refusing it)', async () => {
      const queue = webhooksQueue();
      const add = queue.add.bind(queue);
      let refused = 0;
      // The queue is unreachable at the moment the task ends: the event is committed with the task, not queued.
      (queue as { add: unknown }).add = async () => {
        refused += 1;
        throw new Error('Connection is closed.');
      };
      let id: string;
      try {
        const created = await createTask(`${receiver.url}/hooks/outbox`);
        id = created.body.task_id;
        await waitForStatus(getTask, id, ['completed']);
        expect(refused).toBeGreaterThanOrEqual(1);
        const [pending] = await db.query(`SELECT status, attempts FROM webhook_outbox WHERE task_id = $1`, [
          id,
        ]);
        expect(pending).toEqual({ status: 'pending', attempts: 0 });
        expect(receiver.at('/hooks/outbox')).toHaveLength(0);
      } finally {
        (queue as { add: unknown }).add = add;
      }
      // The reconciler's next pass (every 300 ms here) relays it.
      const [delivered] = await waitUntil(
        async () => receiver.at('/hooks/outbox'),
        (r) => r.length >= 1,
        5_000,
        'the relayed webhook',
      );
      expect(JSON.parse(delivered.body)).toMatchObject({ event: 'task.completed', task: { task_id: id! } });
      const [row] = await waitUntil(
        () => db.query(`SELECT status, attempts FROM webhook_outbox WHERE task_id = $1`, [id!]),
        (rows) => rows[0]?.status === 'delivered',
      );
      expect(row).toEqual({ status: 'delivered', attempts: 1 });
    });

    it('commits a task that ends together with its pending webhook event: one transaction', async () => {
      const created = await createTask(`${receiver.url}/hooks/atomic`);
      const id = created.body.task_id;
      await waitForStatus(getTask, id, ['completed']);
      const [event] = await db.query(
        `SELECT o.event, o.body, o.created_at = t.finished_at AS same_transaction
           FROM webhook_outbox o JOIN tasks t ON t.id = o.task_id WHERE o.task_id = $1`,
        [id],
      );
      // now() is the transaction's start time: equal only when both rows were written in one transaction.
      expect(event).toMatchObject({ event: 'task.completed', same_transaction: true });
      expect(JSON.parse(event.body).task).toEqual((await getTask(id)).body);
    });

    it('re-queues tasks that are queued in PostgreSQL after Redis lost their jobs (FLUSHDB), and they complete', async () => {
      const queue = tasksQueue();
      // This process stops taking jobs, so the tasks stay queued.
      await queue.pause(true);
      const ids: string[] = [];
      try {
        for (let i = 0; i < 3; i += 1) {
          const created = await createTask(`${receiver.url}/hooks/flushed`);
          expect(created.status).toBe(202);
          ids.push(created.body.task_id);
        }
        const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
        try {
          expect(await redis.exists(`${prefix}:agent-tasks:${ids[0]}`)).toBe(1);
          await redis.flushdb();
          expect(await redis.exists(`${prefix}:agent-tasks:${ids[0]}`)).toBe(0);
          for (const id of ids) expect((await getTask(id)).body.status).toBe('queued');
        } finally {
          redis.disconnect();
        }
      } finally {
        await queue.resume(true);
      }
      for (const id of ids) {
        expect(await waitForStatus(getTask, id, ['completed', 'failed'], 10_000)).toMatchObject({
          status: 'completed',
          attempts: 1,
        });
      }
      await waitUntil(
        async () => receiver.at('/hooks/flushed'),
        (r) => r.length >= 3,
      );
    });

    it('makes a pass on one instance at a time (a PostgreSQL advisory lock per queue prefix)', async () => {
      const reconciler = t.app.get(Reconciler, { strict: false });
      const holder = await db.createQueryRunner();
      await holder.connect();
      try {
        await holder.query(`SELECT pg_advisory_lock(hashtext($1))`, [`reconciler:${prefix}`]);
        expect(await reconciler.pass()).toEqual({ ran: false, requeued: [], failed: [], relayed: [] });
        await holder.query(`SELECT pg_advisory_unlock(hashtext($1))`, [`reconciler:${prefix}`]);
        expect((await reconciler.pass()).ran).toBe(true);
      } finally {
        await holder.release();
      }
    });
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
