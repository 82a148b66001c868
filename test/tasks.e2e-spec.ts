// Background agent tasks end to end: the real API queues them on Bull (real Redis), a worker in a child process
// (the built apps/worker) runs them through the agent loop against the fake Anthropic API, state in PostgreSQL.
import { randomUUID } from 'node:crypto';
import { createServer, Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import Redis from 'ioredis';
import { Server as IoServer } from 'socket.io';
import { io as connectSocket, Socket as ClientSocket } from 'socket.io-client';
import type { DataSource } from 'typeorm';
import { ApiKeyService } from '@lib/auth';
import { FakeAnthropic } from './support/fake-anthropic';
import { removeTenantData, startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';
import { removeQueueKeys, testQueuePrefix, waitForStatus, waitUntil } from './support/tasks';
import { TEST_REDIS_URL, testEnv } from './support/test-env';
import { startWorker, WorkerProcess } from './support/worker';

jest.setTimeout(30_000);

describe('background agent tasks (API + worker process + Bull)', () => {
  const prefix = testQueuePrefix('tasks');
  let fake: FakeAnthropic;
  let t: TestApp;
  let db: DataSource;
  let worker: WorkerProcess;
  let workerEnv: Record<string, string | undefined>;

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    const shared = {
      ANTHROPIC_API_KEY: 'sk-ant-test',
      ANTHROPIC_BASE_URL: fake.url,
      // Retries are Bull's job here: one provider call per attempt.
      LLM_MAX_RETRIES: '0',
      QUEUE_PREFIX: prefix,
      TASK_MAX_ATTEMPTS: '3',
      TASK_BACKOFF_MS: '100',
      TASK_LOCK_DURATION_MS: '2000',
      TASK_STALLED_INTERVAL_MS: '500',
      CONVERSATION_LOCK_TTL_MS: '1000',
    };
    t = await startTestApp({ ...shared, RUN_WORKERS_IN_API: 'false' });
    workerEnv = testEnv({ ...shared, TASK_CONCURRENCY: '1' });
    worker = await startWorker(workerEnv);
    db = await openTestDataSource();
  });

  afterEach(() => fake.reset());

  afterAll(async () => {
    await worker?.stop();
    await db?.destroy();
    await t?.close();
    await fake?.stop();
    await removeQueueKeys(prefix);
  });

  const createTask = (json: Record<string, unknown>) => t.request('POST', '/v1/tasks', { json });
  const getTask = (id: string) => t.request('GET', `/v1/tasks/${id}`);
  const cancelTask = (id: string) => t.request('POST', `/v1/tasks/${id}/cancel`);
  const start = async (instruction: string, extra: Record<string, unknown> = {}): Promise<string> => {
    const res = await createTask({ agent_name: 'support', instruction, ...extra });
    expect(res.status).toBe(202);
    return res.body.task_id;
  };

  describe('running', () => {
    it('moves queued → running → completed, progress rising per iteration, with result, tokens and cost stored', async () => {
      const firstCall = fake.gate();
      const secondCall = fake.gate();
      fake.enqueue(
        {
          text: 'Checking. ',
          toolUses: [{ id: 'toolu_order', name: 'lookup_order', input: { order_number: '1001' } }],
          usage: { input_tokens: 100, output_tokens: 10 },
          gate: firstCall,
        },
        {
          text: 'Order 1001 has shipped.',
          usage: { input_tokens: 150, output_tokens: 12 },
          gate: secondCall,
        },
      );
      const created = await createTask({
        agent_name: 'support',
        instruction: 'Where is order 1001?',
        metadata: { report: 'orders' },
      });
      expect(created.status).toBe(202);
      expect(created.body).toEqual({ task_id: expect.any(String), status: 'queued' });
      const id = created.body.task_id;

      await firstCall.reached;
      const running = (await getTask(id)).body;
      expect(running).toMatchObject({
        task_id: id,
        status: 'running',
        progress: 0,
        attempts: 1,
        result: null,
      });
      expect(running.started_at).toEqual(expect.any(String));
      expect(running.finished_at).toBeNull();

      firstCall.release();
      await secondCall.reached;
      const midway = await waitUntil(
        () => getTask(id),
        (r) => r.body.progress > 0,
      );
      // One of the support agent's 6 iterations is done (the model call and its tool).
      expect(midway.body).toMatchObject({ status: 'running' });
      expect(midway.body.progress).toBeCloseTo(1 / 6, 3);

      secondCall.release();
      const done = await waitForStatus(getTask, id, ['completed']);
      expect(done).toMatchObject({
        task_id: id,
        agent_name: 'support',
        status: 'completed',
        progress: 1,
        result: 'Checking. Order 1001 has shipped.',
        error: null,
        input_tokens: 250,
        output_tokens: 22,
        total_tokens: 272,
        attempts: 1,
        metadata: { report: 'orders' },
      });
      expect(done.cost_usd).toBeCloseTo((250 * 3 + 22 * 15) / 1e6, 8);
      expect(Date.parse(done.finished_at)).toBeGreaterThanOrEqual(Date.parse(done.started_at));

      // The task's agent conversation is an ordinary conversation: the tool call and its result are there.
      const conversation = await t.request('GET', `/v1/conversations/${done.conversation_id}`);
      expect(conversation.status).toBe(200);
      expect(conversation.body).toMatchObject({
        title: 'Where is order 1001?',
        message_count: 4,
        total_tokens: 272,
      });
      expect(fake.requests[1].body.messages[2]).toMatchObject({
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: 'toolu_order' }],
      });

      // Cancelling a finished task answers it unchanged.
      const cancel = await cancelTask(id);
      expect(cancel.status).toBe(200);
      expect(cancel.body).toEqual(done);
    });

    it('lists the tenant’s tasks newest first, filtered by status', async () => {
      fake.respondWith(() => ({ text: 'Done.' }));
      const a = await start('First list task');
      const b = await start('Second list task');
      await waitForStatus(getTask, a, ['completed']);
      await waitForStatus(getTask, b, ['completed']);
      const all = await t.request('GET', '/v1/tasks?page=1&page_size=100');
      expect(all.status).toBe(200);
      expect(all.body).toMatchObject({ page: 1, page_size: 100 });
      const ids = all.body.tasks.map((task: { task_id: string }) => task.task_id);
      expect(ids.indexOf(b)).toBeLessThan(ids.indexOf(a));
      expect(all.body.total).toBe(all.body.tasks.length);
      const failed = await t.request('GET', '/v1/tasks?status=failed');
      expect(failed.body.tasks.map((task: { task_id: string }) => task.task_id)).not.toContain(a);
      const paged = await t.request('GET', '/v1/tasks?page=1&page_size=1');
      expect(paged.body.tasks).toHaveLength(1);
      expect(paged.body.total).toBe(all.body.total);
      const bad = await t.request('GET', '/v1/tasks?status=finished');
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatchObject({
        type: 'validation_error',
        details: [{ field: 'status', message: expect.stringContaining('queued') }],
      });
    });

    it('refuses bad requests: unknown agent, blank or long instruction, non-UUID ids; another tenant gets 404', async () => {
      const unknown = await createTask({ agent_name: 'nobody', instruction: 'Hi' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error).toMatchObject({
        type: 'validation_error',
        details: [{ field: 'agent_name', message: expect.stringContaining('support') }],
      });
      const blank = await createTask({ agent_name: 'support', instruction: '   ' });
      expect(blank.status).toBe(400);
      const long = await createTask({ agent_name: 'support', instruction: 'x'.repeat(50_001) });
      expect(long.status).toBe(400);
      expect(long.body.error.details).toEqual([{ field: 'instruction', message: expect.any(String) }]);
      const extra = await createTask({ agent_name: 'support', instruction: 'Hi', priority: 'high' });
      expect(extra.status).toBe(400);
      expect((await getTask('not-a-uuid')).status).toBe(400);
      expect((await cancelTask('not-a-uuid')).status).toBe(400);
      expect((await getTask(randomUUID())).status).toBe(404);

      fake.respondWith(() => ({ text: 'Mine.' }));
      const id = await start('A task of my own');
      const otherTenant = `test-other-${randomUUID()}`;
      const other = await t.app
        .get(ApiKeyService)
        .create({ tenant: otherTenant, role: 'user', name: 'other' });
      try {
        const seen = await t.request('GET', `/v1/tasks/${id}`, { key: other.key });
        expect(seen.status).toBe(404);
        expect(seen.body.error.type).toBe('not_found');
        expect((await t.request('POST', `/v1/tasks/${id}/cancel`, { key: other.key })).status).toBe(404);
        const list = await t.request('GET', '/v1/tasks', { key: other.key });
        expect(list.body).toMatchObject({ tasks: [], total: 0 });
      } finally {
        await removeTenantData(otherTenant);
      }
      await waitForStatus(getTask, id, ['completed']);
    });
  });

  describe('failures', () => {
    it('ends failed with the provider’s reason on a permanent error, without retrying', async () => {
      fake.enqueue({ status: 400, message: 'messages.0.content: Input should be a valid list' });
      const id = await start('This request is refused');
      const failed = await waitForStatus(getTask, id, ['failed']);
      expect(failed).toMatchObject({ status: 'failed', attempts: 1, result: null, progress: 0 });
      expect(failed.error).toMatch(/rejected the request \(400\).*Input should be a valid list/);
      expect(failed.finished_at).toEqual(expect.any(String));
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(fake.requests).toHaveLength(1);
    });

    it('retries a 429 with backoff and completes on the next attempt', async () => {
      fake.enqueue({ status: 429, retryAfter: 0 }, { text: 'Done after a retry.' });
      const id = await start('Rate limited once');
      const done = await waitForStatus(getTask, id, ['completed']);
      expect(done).toMatchObject({
        status: 'completed',
        attempts: 2,
        error: null,
        result: 'Done after a retry.',
      });
      expect(fake.requests).toHaveLength(2);
    });

    it('gives up after TASK_MAX_ATTEMPTS transient failures (529, 500, 529)', async () => {
      fake.enqueue({ status: 529 }, { status: 500, shouldRetry: false }, { status: 529 });
      const id = await start('Overloaded every time');
      const failed = await waitForStatus(getTask, id, ['failed']);
      expect(failed.attempts).toBe(3);
      expect(failed.error).toMatch(/overloaded.*gave up after 3 attempts/);
      expect(fake.requests).toHaveLength(3);
    });

    it('a retried task replays its journal: the failed attempt’s model call and ticket are not repeated, nor billed twice', async () => {
      fake.enqueue(
        {
          text: 'Opening a ticket. ',
          toolUses: [
            {
              name: 'create_support_ticket',
              input: {
                subject: 'Keyboard arrived broken',
                description: 'Order 1001 arrived with a broken keyboard.',
              },
            },
          ],
        },
        // The second model call fails for good on the first attempt (the client does not retry here: Bull does).
        { status: 529 },
        { text: 'Ticket opened.' },
      );
      const id = await start('Open a ticket for my broken keyboard');
      const done = await waitForStatus(getTask, id, ['completed', 'failed']);
      expect(done).toMatchObject({ status: 'completed', attempts: 2 });
      // One request per step: the first call, the failed second call, and its retry. The first was replayed.
      expect(fake.requests).toHaveLength(3);
      /** The tool_result the model was sent in a request (its last message). */
      const toolResult = (request: number) => {
        const messages = fake.requests[request].body.messages;
        return (messages[messages.length - 1].content as Array<{ content: string; is_error?: boolean }>)[0];
      };
      // The retry sent the recorded result of the first attempt's ticket.
      expect(toolResult(2)).toEqual(toolResult(1));
      expect(JSON.parse(toolResult(2).content)).toMatchObject({ created: true });
      const tickets = await db.query(
        `SELECT ticket_number, idempotency_key FROM support_tickets WHERE task_id = $1`,
        [id],
      );
      expect(tickets).toHaveLength(1);
      expect(tickets[0].idempotency_key).toMatch(new RegExp(`^${done.run_id}:toolu_`));
      // The whole answer, replayed part included; one run across both attempts.
      expect(done.result).toBe('Opening a ticket. Ticket opened.');
      const runs = await db.query(`SELECT id, status FROM runs WHERE task_id = $1`, [id]);
      expect(runs).toEqual([{ id: done.run_id, status: 'completed' }]);
      // Each completed model call is billed once: the first was recorded when the attempt failed, not again.
      const calls = await db.query(
        `SELECT status, input_tokens FROM llm_calls WHERE task_id = $1 ORDER BY created_at`,
        [id],
      );
      expect(calls).toHaveLength(2);
      expect(calls.every((c: { status: string }) => c.status === 'completed')).toBe(true);
      const conversation = await t.request('GET', `/v1/conversations/${done.conversation_id}`);
      expect(conversation.body.message_count).toBe(4);
      expect(conversation.body.cost_usd).toBeCloseTo(done.cost_usd, 8);
    });
  });

  describe('cancel', () => {
    it('removes a queued task’s job: it ends cancelled at once and never runs', async () => {
      const busy = fake.gate();
      fake.enqueue({ text: 'Keeping the only worker slot busy.', gate: busy });
      const first = await start('Occupy the worker');
      await busy.reached;
      const queued = await start('Never run me');
      expect((await getTask(queued)).body.status).toBe('queued');

      const cancelled = await cancelTask(queued);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({
        task_id: queued,
        status: 'cancelled',
        attempts: 0,
        started_at: null,
      });
      expect(cancelled.body.finished_at).toEqual(expect.any(String));

      busy.release();
      await waitForStatus(getTask, first, ['completed']);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(fake.requests).toHaveLength(1);
      expect((await getTask(queued)).body.status).toBe('cancelled');
    });

    it('a job that reaches a worker after its task’s cancel was recorded ends the task cancelled, never run', async () => {
      const busy = fake.gate();
      fake.enqueue({ text: 'Keeping the only worker slot busy.', gate: busy });
      const first = await start('Occupy the worker');
      await busy.reached;
      const late = await start('Cancelled while its job stayed queued');
      // As when the cancel could not remove the job (a worker was taking it at that moment): only the row knows.
      await db.query(`UPDATE tasks SET cancel_requested_at = now() WHERE id = $1`, [late]);
      busy.release();
      await waitForStatus(getTask, first, ['completed']);
      const ended = await waitForStatus(getTask, late, ['cancelled']);
      expect(ended).toMatchObject({ status: 'cancelled', attempts: 0, started_at: null });
      expect(fake.requests).toHaveLength(1);
    });

    it('stops a running task at once: its provider call is aborted and it ends cancelled', async () => {
      const midAnswer = fake.gate();
      fake.enqueue({ text: 'A long report that will never be finished', gate: midAnswer });
      const id = await start('Write a long report');
      await midAnswer.reached;
      expect((await getTask(id)).body.status).toBe('running');

      const cancelled = await cancelTask(id);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({ status: 'cancelled', attempts: 1, result: 'A ' });
      await fake.waitForAborts(1);
      // The partial turn is stored like a cancelled chat turn.
      const conversation = await t.request('GET', `/v1/conversations/${cancelled.body.conversation_id}`);
      expect(conversation.body.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant']);
    });
  });

  describe('socket events', () => {
    let ioServer: IoServer;
    let http: HttpServer;
    let redisClients: Redis[];
    let client: ClientSocket;

    // Another "API instance": a plain Socket.IO server on the Redis adapter. The worker publishes through the
    // Redis emitter, so a client of any instance receives its task's events.
    beforeAll(async () => {
      const pub = new Redis(TEST_REDIS_URL);
      const sub = pub.duplicate();
      redisClients = [pub, sub];
      http = createServer();
      ioServer = new IoServer(http, { adapter: createAdapter(pub, sub) });
      ioServer.of('/chat').on('connection', (socket) => {
        socket.on('watch', async (taskId: string, ack: () => void) => {
          await socket.join(`task:${taskId}`);
          ack();
        });
      });
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      const { port } = http.address() as AddressInfo;
      client = connectSocket(`http://127.0.0.1:${port}/chat`, { transports: ['websocket'] });
      await new Promise<void>((resolve) => client.on('connect', () => resolve()));
    });

    afterAll(async () => {
      client?.disconnect();
      await new Promise<void>((resolve) => ioServer.close(() => resolve()));
      for (const redis of redisClients) redis.disconnect();
    });

    it('delivers task_progress (rising) and task_done from the worker to a subscribed client', async () => {
      const events: Array<[string, any]> = [];
      client.on('task_progress', (payload) => events.push(['task_progress', payload]));
      client.on('task_done', (payload) => events.push(['task_done', payload]));
      const firstCall = fake.gate();
      fake.enqueue(
        {
          text: 'Looking. ',
          toolUses: [{ id: 'toolu_socket', name: 'lookup_order', input: { order_number: '1001' } }],
          gate: firstCall,
        },
        { text: 'Shipped.' },
      );
      const id = await start('Track order 1001 for the socket');
      // Watching from here on: the `running` event of the start has been sent already.
      await firstCall.reached;
      await client.emitWithAck('watch', id);
      firstCall.release();
      await waitUntil(
        async () => events.length,
        () => events.some(([name]) => name === 'task_done'),
      );
      const progress = events.filter(([name]) => name === 'task_progress').map(([, payload]) => payload);
      expect(progress).toEqual([
        { task_id: id, status: 'running', progress: expect.closeTo(1 / 6, 3) },
        { task_id: id, status: 'completed', progress: 1 },
      ]);
      const [, done] = events[events.length - 1];
      expect(done).toMatchObject({
        task_id: id,
        status: 'completed',
        progress: 1,
        result: 'Looking. Shipped.',
      });
      expect(done).toEqual((await getTask(id)).body);
    });
  });

  describe('a worker killed mid-task', () => {
    it('after a worker comes back, the task is picked up again and completes; a queued task whose job was lost is queued again', async () => {
      const midAnswer = fake.gate();
      fake.enqueue({ text: 'Half of the answer', gate: midAnswer });
      fake.respondWith((request) => {
        const first = request.body.messages[0].content;
        return { text: first === 'Recover me' ? 'Recovered.' : 'Finished after the restart.' };
      });
      const id = await start('Survive a crash');
      await midAnswer.reached;

      // A task whose process died between storing its row and queuing its job.
      const orphan = randomUUID();
      await db.query(
        `INSERT INTO tasks (id, tenant_id, agent_name, instruction, conversation_id, queue)
         VALUES ($1, $2, 'support', 'Recover me', $3, $4)`,
        [orphan, t.tenantId, randomUUID(), `${prefix}:agent-tasks`],
      );

      await worker.kill();
      expect((await getTask(id)).body.status).toBe('running');
      worker = await startWorker(workerEnv);

      const done = await waitForStatus(getTask, id, ['completed', 'failed'], 15_000);
      expect(done).toMatchObject({ status: 'completed', attempts: 2, result: 'Finished after the restart.' });
      // The crashed run stored nothing: the conversation holds the one turn of the run that completed.
      const conversation = await t.request('GET', `/v1/conversations/${done.conversation_id}`);
      expect(conversation.body.message_count).toBe(2);

      const recovered = await waitForStatus(getTask, orphan, ['completed', 'failed'], 15_000);
      expect(recovered).toMatchObject({ status: 'completed', attempts: 1, result: 'Recovered.' });
    });

    it('ends failed, not running forever, once its workers died more than TASK_MAX_STALLED_COUNT times', async () => {
      await worker.stop();
      const fragileEnv = { ...workerEnv, TASK_MAX_STALLED_COUNT: '0' };
      worker = await startWorker(fragileEnv);
      const midAnswer = fake.gate();
      fake.enqueue({ text: 'Never finished', gate: midAnswer });
      const id = await start('Crash for good');
      await midAnswer.reached;
      await worker.kill();
      worker = await startWorker(fragileEnv);

      const failed = await waitForStatus(getTask, id, ['failed', 'completed'], 15_000);
      expect(failed).toMatchObject({ status: 'failed', attempts: 1 });
      expect(failed.error).toMatch(/worker stopped responding/);
      expect(fake.requests).toHaveLength(1);
    });
  });
});
