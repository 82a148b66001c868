// Graceful shutdown of real processes: SIGTERM to the built API server mid-turn (readiness 503 at once, new turns
// refused, sockets sent to reconnect elsewhere, the running turn completes and is stored, or is handed back once the
// grace period is over and resumed by the next instance), and SIGTERM to a worker mid-task (the task finishes, or
// its job is handed back and another worker completes it).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { FakeAnthropic } from './support/fake-anthropic';
import { removeTenantData, request, startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';
import { buildServer, BuiltServer, ServerProcess, startServerProcess } from './support/server-process';
import { connectSocket } from './support/socket';
import { removeQueueKeys, testQueuePrefix, waitForStatus, waitUntil } from './support/tasks';
import { testEnv } from './support/test-env';
import { startWorker, WorkerProcess } from './support/worker';

jest.setTimeout(60_000);

describe('graceful shutdown on SIGTERM', () => {
  let fake: FakeAnthropic;
  let db: DataSource;

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    db = await openTestDataSource();
  });

  afterEach(() => fake.reset());

  afterAll(async () => {
    await db?.destroy();
    await fake?.stop();
  });

  describe('the API server process', () => {
    let server: BuiltServer;
    let cwd: string;
    let proc: ServerProcess | undefined;
    const tenants: string[] = [];
    const adminKey = `operator-chosen-${randomUUID()}`;

    const start = (overrides: Record<string, string>) => {
      const tenant = `test-${randomUUID()}`;
      tenants.push(tenant);
      return startServerProcess(
        server,
        testEnv({
          DEFAULT_TENANT: tenant,
          ADMIN_API_KEY: adminKey,
          ANTHROPIC_API_KEY: 'sk-ant-test',
          ANTHROPIC_BASE_URL: fake.url,
          LLM_MAX_RETRIES: '0',
          RUN_WORKERS_IN_API: 'false',
          LOG_LEVEL: 'info',
          ...overrides,
        }),
        cwd,
      );
    };
    const chat = (url: string, message: string) =>
      request(url, 'POST', '/v1/chat', { key: adminKey, json: { message } });
    const storedMessages = (conversationId: string) =>
      db.query(`SELECT role, content FROM messages WHERE conversation_id = $1 ORDER BY seq`, [
        conversationId,
      ]);

    beforeAll(() => {
      server = buildServer();
      cwd = mkdtempSync(join(tmpdir(), 'agent-backend-shutdown-'));
    });

    afterEach(async () => {
      if (proc) await proc.stop();
      proc = undefined;
    });

    afterAll(async () => {
      server?.remove();
      rmSync(cwd, { recursive: true, force: true });
      for (const tenant of tenants) await removeTenantData(tenant);
    });

    it('turns not-ready at once, refuses new turns, releases sockets, lets the running turn finish and stores it', async () => {
      proc = await start({ SHUTDOWN_GRACE_MS: '20000' });
      const { url } = proc;
      const gate = fake.gate();
      fake.enqueue({
        text: 'Order 1001 has shipped and arrives tomorrow.',
        usage: { input_tokens: 90, output_tokens: 11 },
        gate,
      });
      const idle = await connectSocket(url, adminKey);
      const idleGone = new Promise<string>((resolve) => idle.socket.once('disconnect', resolve));
      const running = chat(url, 'Where is order 1001?');
      await gate.reached;
      expect((await request(url, 'GET', '/health/ready', { key: null })).status).toBe(200);

      proc.signal('SIGTERM');

      const ready = await waitUntil(
        () => request(url, 'GET', '/health/ready', { key: null }),
        (r) => r.status === 503,
        5_000,
        'readiness to answer 503',
      );
      expect(ready.body.error).toMatchObject({ type: 'service_unavailable' });
      expect((await request(url, 'GET', '/health/live', { key: null })).status).toBe(200);
      const refused = await chat(url, 'And order 1002?');
      expect(refused.status).toBe(503);
      expect(refused.body.error).toMatchObject({ type: 'service_unavailable' });
      expect(refused.headers.get('retry-after')).toBe('1');
      // A socket without a turn here is told to reconnect elsewhere: its transport is closed, which a
      // Socket.IO client answers by reconnecting (unlike a server-side "io server disconnect").
      expect(await idleGone).toBe('transport close');
      idle.close();
      // Nor does a new socket connect to a draining instance.
      await expect(connectSocket(url, adminKey)).rejects.toThrow();

      gate.release();
      const answer = await running;
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({
        response: 'Order 1001 has shipped and arrives tomorrow.',
        stop_reason: 'end_turn',
      });
      expect(await proc.exited).toBe(0);
      const stored = await storedMessages(answer.body.conversation_id);
      expect(stored.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant']);
      expect(JSON.stringify(stored[1].content)).toContain('arrives tomorrow');
      const log = proc.lines.join('\n');
      expect(log).toContain('SIGTERM received');
      expect(log).toContain('Draining');
    });

    it('hands back a run still running when the grace period ends: its caller gets 503, the next instance resumes and stores it', async () => {
      proc = await start({ SHUTDOWN_GRACE_MS: '700' });
      const { url } = proc;
      const gate = fake.gate();
      fake.enqueue(
        { text: 'This answer is long and never gets to its end.', gate },
        { text: 'The whole story.' },
      );
      try {
        const running = chat(url, 'Tell me a long story.');
        await gate.reached;
        const signalledAt = Date.now();
        proc.signal('SIGTERM');
        const answer = await running;
        expect(answer.status).toBe(503);
        expect(answer.body.error).toMatchObject({ type: 'service_unavailable' });
        expect(answer.body.error.message).toMatch(/\/v1\/conversations\/[0-9a-f-]{36}\/events/);
        expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(600);
        expect(await proc.exited).toBe(0);
        const conversationId = /conversations\/([0-9a-f-]{36})/.exec(answer.body.error.message)![1];
        // Not ended, nothing stored: the run waits for an instance to resume it.
        const [run] = await db.query(`SELECT id, status FROM runs WHERE conversation_id = $1`, [
          conversationId,
        ]);
        expect(run.status).toBe('running');
        expect(await storedMessages(conversationId)).toEqual([]);

        proc = await start({ RUN_RECONCILE_INTERVAL_MS: '200' });
        await waitUntil(
          () => db.query(`SELECT status FROM runs WHERE id = $1`, [run.id]),
          ([row]) => row.status !== 'running',
          10_000,
          'the resumed run to end',
        ).then(([row]) => expect(row.status).toBe('completed'));
        const stored = await storedMessages(conversationId);
        expect(stored.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant']);
        expect(JSON.stringify(stored[1].content)).toContain('The whole story.');
      } finally {
        gate.release();
      }
    });
  });

  describe('a worker process', () => {
    const prefix = testQueuePrefix('shutdown');
    let t: TestApp;
    const workers: WorkerProcess[] = [];
    let shared: Record<string, string>;

    beforeAll(async () => {
      shared = {
        ANTHROPIC_API_KEY: 'sk-ant-test',
        ANTHROPIC_BASE_URL: fake.url,
        LLM_MAX_RETRIES: '0',
        QUEUE_PREFIX: prefix,
        TASK_MAX_ATTEMPTS: '3',
        TASK_BACKOFF_MS: '100',
        TASK_LOCK_DURATION_MS: '2000',
        TASK_STALLED_INTERVAL_MS: '500',
        CONVERSATION_LOCK_TTL_MS: '1000',
      };
      t = await startTestApp({ ...shared, RUN_WORKERS_IN_API: 'false' });
    });

    afterEach(async () => {
      for (const worker of workers.splice(0)) await worker.stop();
    });

    afterAll(async () => {
      await t?.close();
      await removeQueueKeys(prefix);
    });

    const worker = async (graceMs: number): Promise<WorkerProcess> => {
      const started = await startWorker(
        testEnv({ ...shared, TASK_CONCURRENCY: '1', SHUTDOWN_GRACE_MS: String(graceMs), LOG_LEVEL: 'info' }),
      );
      workers.push(started);
      return started;
    };
    const createTask = async (instruction: string): Promise<string> => {
      const res = await t.request('POST', '/v1/tasks', { json: { agent_name: 'support', instruction } });
      expect(res.status).toBe(202);
      return res.body.task_id;
    };
    const readTask = (id: string) => t.request('GET', `/v1/tasks/${id}`);

    it('finishes the running task before exiting, and takes no new job meanwhile', async () => {
      const first = await worker(20_000);
      const gate = fake.gate();
      fake.enqueue({ text: 'Finished before the worker stopped.', gate });
      const taskId = await createTask('Check order 1001.');
      await gate.reached;
      const stopped = first.stop();
      // Queued while the worker drains: it stays queued for another worker.
      const later = await createTask('Check order 1002.');
      await new Promise((resolve) => setTimeout(resolve, 300));
      gate.release();
      await stopped;
      expect((await waitForStatus(readTask, taskId, ['completed'])).result).toBe(
        'Finished before the worker stopped.',
      );
      expect((await readTask(later)).body.status).toBe('queued');
      fake.enqueue({ text: 'Done by the next worker.' });
      await worker(20_000);
      expect((await waitForStatus(readTask, later, ['completed'])).result).toBe('Done by the next worker.');
    });

    it('hands an unfinished task back after the grace period; another worker completes it', async () => {
      const first = await worker(300);
      const gate = fake.gate();
      fake.enqueue({ text: 'This run is cut by the shutdown.', gate });
      const taskId = await createTask('Check order 1003.');
      await gate.reached;
      const signalledAt = Date.now();
      await first.stop();
      expect(Date.now() - signalledAt).toBeLessThan(10_000);
      expect(first.output()).toContain('Handed back 1 unfinished job');
      gate.release();
      fake.enqueue({ text: 'Completed after the hand-back.' });
      await worker(20_000);
      const done = await waitForStatus(readTask, taskId, ['completed'], 20_000);
      expect(done.result).toBe('Completed after the hand-back.');
    });
  });
});
