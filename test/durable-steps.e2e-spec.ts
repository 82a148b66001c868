// Durable steps end to end (contract version 2, "Durable steps"): a run executed again after its process died —
// a worker SIGKILLed mid-task, an API process SIGKILLed or shut down mid-turn — replays its journal instead of asking
// the model or running its tools again, takes over its own conversation lock at once, and completes. Real worker and
// API processes, PostgreSQL, Redis and Bull; only the model provider is the fake server.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { FakeAnthropic, FakeGate, RecordedRequest } from './support/fake-anthropic';
import { request, startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';
import { buildServer, BuiltServer, ServerProcess, startServerProcess } from './support/server-process';
import { SseReader } from './support/sse';
import { removeQueueKeys, testQueuePrefix, waitForStatus, waitUntil } from './support/tasks';
import { testEnv } from './support/test-env';
import { startWorker, WorkerProcess } from './support/worker';
import { ConversationBusyError } from '@lib/core';
import { ConversationLock } from '@lib/conversations';
import { MAX_RECONCILER_RESUMES } from '../libs/runs/src/run-recovery';

jest.setTimeout(60_000);

const TICKET = {
  name: 'create_support_ticket',
  input: { subject: 'Keyboard arrived broken', description: 'Order 1001 arrived with a broken keyboard.' },
};
const LOOKUP = { name: 'lookup_order', input: { order_number: '1001' } };

/** A request for a run's first step: the history holds the user's message alone. */
const isFirstStep = (r: RecordedRequest) => r.body.messages.length === 1;

describe('durable steps', () => {
  const prefix = testQueuePrefix('steps');
  let fake: FakeAnthropic;
  let t: TestApp;
  let db: DataSource;
  let server: BuiltServer;
  let cwd: string;
  const workers: WorkerProcess[] = [];
  const processes: ServerProcess[] = [];
  const streams: AbortController[] = [];
  let shared: Record<string, string>;

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    shared = {
      ANTHROPIC_API_KEY: 'sk-ant-test',
      ANTHROPIC_BASE_URL: fake.url,
      // Retries are the queue's (or the resumed run's) job here: one provider request per attempt.
      LLM_MAX_RETRIES: '0',
      QUEUE_PREFIX: prefix,
      TASK_MAX_ATTEMPTS: '3',
      TASK_BACKOFF_MS: '100',
    };
    // The instance that survives: its reconciler resumes the runs of an API process that died.
    t = await startTestApp({
      ...shared,
      RUN_WORKERS_IN_API: 'false',
      RUN_RECONCILE_INTERVAL_MS: '200',
      CONVERSATION_LOCK_TTL_MS: '1000',
    });
    db = await openTestDataSource();
    server = buildServer();
    cwd = mkdtempSync(join(tmpdir(), 'agent-backend-steps-'));
  });

  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.abort();
    for (const worker of workers.splice(0)) await worker.stop();
    for (const proc of processes.splice(0)) await proc.stop();
    fake.reset();
  });

  afterAll(async () => {
    await db?.destroy();
    await t?.close();
    await fake?.stop();
    server?.remove();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
    await removeQueueKeys(prefix);
  });

  const worker = async (): Promise<WorkerProcess> => {
    const started = await startWorker(
      testEnv({
        ...shared,
        TASK_CONCURRENCY: '1',
        // The timings: the queue notices a dead worker within seconds, while the conversation lock of
        // the dead worker's run (CONVERSATION_LOCK_TTL_MS, 30 s by default) still holds.
        TASK_LOCK_DURATION_MS: '5000',
        TASK_STALLED_INTERVAL_MS: '2000',
      }),
    );
    workers.push(started);
    return started;
  };

  /** An API process of its own (same database, Redis and tenant as `t`), which a test may kill. */
  const apiProcess = async (overrides: Record<string, string> = {}): Promise<ServerProcess> => {
    const proc = await startServerProcess(
      server,
      testEnv({
        ...shared,
        DEFAULT_TENANT: t.tenantId,
        RUN_WORKERS_IN_API: 'false',
        CONVERSATION_LOCK_TTL_MS: '1000',
        // This process never resumes anything itself within a test.
        RUN_RECONCILE_INTERVAL_MS: '3600000',
        // Its start-up line names its URL.
        LOG_LEVEL: 'info',
        ...overrides,
      }),
      cwd,
    );
    processes.push(proc);
    return proc;
  };

  const follow = async (conversationId: string): Promise<SseReader> => {
    const controller = new AbortController();
    streams.push(controller);
    const response = await fetch(`${t.url}/v1/conversations/${conversationId}/events?after_seq=0`, {
      headers: { authorization: `Bearer ${t.userKey}` },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    return new SseReader(response);
  };

  const newConversation = async (): Promise<string> => {
    const res = await t.request('POST', '/v1/conversations', { json: { agent_name: 'support' } });
    expect(res.status).toBe(201);
    return res.body.id;
  };

  const journalOf = async (runId: string) =>
    (
      await db.query(`SELECT step, kind, tool_use_id FROM run_steps WHERE run_id = $1 ORDER BY step`, [runId])
    ).map((r: { kind: string }) => r.kind);

  it('a worker SIGKILLed right after the ticket tool: the retried task takes over its lock at once, opens no second ticket and asks the model once per step', async () => {
    let current = await worker();
    let killed: Promise<void> | undefined;
    fake.respondWith(async (r) => {
      if (isFirstStep(r)) return { text: 'Opening a ticket. ', toolUses: [TICKET] };
      if (!killed) {
        // The ticket's result is recorded (the loop writes it before it asks the model again): the worker dies now.
        killed = current.kill();
        await killed;
        return { text: 'Nobody reads this.' };
      }
      return { text: 'Your ticket is open.' };
    });
    const created = await t.request('POST', '/v1/tasks', {
      json: { agent_name: 'support', instruction: 'My keyboard arrived broken; open a ticket.' },
    });
    expect(created.status).toBe(202);
    const id = created.body.task_id;
    await waitUntil(async () => killed !== undefined, Boolean, 15_000, 'the worker to be killed');
    await killed;
    current = await worker();

    const done = await waitForStatus(
      (x) => t.request('GET', `/v1/tasks/${x}`),
      id,
      ['completed', 'failed'],
      30_000,
    );
    // Not failed with conversation_busy: the retried run took over the lock its dead worker still held.
    expect(done).toMatchObject({
      status: 'completed',
      attempts: 2,
      result: 'Opening a ticket. Your ticket is open.',
    });

    const tickets = await db.query(`SELECT idempotency_key FROM support_tickets WHERE task_id = $1`, [id]);
    expect(tickets).toEqual([
      { idempotency_key: expect.stringMatching(new RegExp(`^${done.run_id}:toolu_`)) },
    ]);
    // The first step was asked for once; the second step's request, cut by the kill, was asked again with the
    // same history (the same tool_use id and its recorded result): the tool did not run again.
    expect(fake.requests.filter(isFirstStep)).toHaveLength(1);
    const later = fake.requests.filter((r) => !isFirstStep(r));
    expect(later).toHaveLength(2);
    expect(later[1].body.messages).toEqual(later[0].body.messages);
    expect(await journalOf(done.run_id)).toEqual(['model', 'tool', 'model']);
    // One run across both attempts, stored once; each completed model call billed once.
    expect(await db.query(`SELECT status FROM runs WHERE task_id = $1`, [id])).toEqual([
      { status: 'completed' },
    ]);
    const conversation = await t.request('GET', `/v1/conversations/${done.conversation_id}`);
    expect(conversation.body.message_count).toBe(4);
    expect(await db.query(`SELECT count(*)::int AS n FROM llm_calls WHERE task_id = $1`, [id])).toEqual([
      { n: 2 },
    ]);
  });

  it('an API process SIGKILLed mid-run: another instance resumes the run from its journal; a follower sees it end once', async () => {
    const proc = await apiProcess();
    const conversationId = await newConversation();
    const events = await follow(conversationId);
    let killed = false;
    fake.respondWith(async (r) => {
      if (isFirstStep(r)) return { text: 'Looking it up. ', toolUses: [LOOKUP] };
      if (!killed) {
        killed = true;
        proc.signal('SIGKILL');
        await proc.exited;
        return { text: 'Nobody reads this.' };
      }
      return { text: 'Order 1001 has shipped.' };
    });
    // The caller's connection dies with the process.
    const answer = await request(proc.url, 'POST', '/v1/chat', {
      key: t.userKey,
      json: { message: 'Where is order 1001?', conversation_id: conversationId },
    }).catch((error: Error) => ({ failed: error.message }));
    expect(answer).toEqual({ failed: expect.any(String) });

    const done = await events.until((f) => f.event === 'done');
    const runId = done.data.run_id;
    const seen = events.events.filter((e) => e.payload.run_id === runId);
    expect(seen.filter((e) => e.name === 'run_started')).toHaveLength(1);
    expect(seen.filter((e) => e.name === 'tool_start')).toHaveLength(1);
    const seqs = seen.map((e) => e.payload.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(done.data.stop_reason).toBe('end_turn');

    const run = await t.request('GET', `/v1/runs/${runId}`);
    expect(run.body).toMatchObject({ status: 'completed', source: 'rest' });
    expect(fake.requests.filter(isFirstStep)).toHaveLength(1);
    expect(await journalOf(runId)).toEqual(['model', 'tool', 'model']);
    const stored = await t.request('GET', `/v1/conversations/${conversationId}`);
    expect(stored.body.messages.map((m: { role: string }) => m.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
    expect(JSON.stringify(stored.body.messages[3].content)).toContain('Order 1001 has shipped.');
  });

  it('an API process shut down mid-run hands the run back: its REST caller gets 503, another instance completes it', async () => {
    const proc = await apiProcess({ SHUTDOWN_GRACE_MS: '300' });
    const conversationId = await newConversation();
    const events = await follow(conversationId);
    const midAnswer = new FakeGate();
    let secondAsked = 0;
    fake.respondWith((r) => {
      if (isFirstStep(r)) return { text: 'Looking it up. ', toolUses: [LOOKUP] };
      secondAsked += 1;
      return secondAsked === 1
        ? { text: 'Order 1001 is on its way.', gate: midAnswer }
        : { text: 'Order 1001 has shipped.' };
    });
    const answering = request(proc.url, 'POST', '/v1/chat', {
      key: t.userKey,
      json: { message: 'Where is order 1001?', conversation_id: conversationId },
    });
    await midAnswer.reached;
    proc.signal('SIGTERM');
    const answer = await answering;
    expect(answer.status).toBe(503);
    expect(answer.body.error).toMatchObject({ type: 'service_unavailable' });
    expect(answer.body.error.message).toContain(`/v1/conversations/${conversationId}/events`);
    expect(await proc.exited).toBe(0);
    midAnswer.release();

    const done = await events.until((f) => f.event === 'done');
    expect(done.data.stop_reason).toBe('end_turn');
    const run = await t.request('GET', `/v1/runs/${done.data.run_id}`);
    expect(run.body.status).toBe('completed');
    // The first step and its tool were replayed; the cut second step was asked again.
    expect(fake.requests.filter(isFirstStep)).toHaveLength(1);
    expect(await journalOf(done.data.run_id)).toEqual(['model', 'tool', 'model']);
    const stored = await t.request('GET', `/v1/conversations/${conversationId}`);
    expect(stored.body.message_count).toBe(4);
    expect(JSON.stringify(stored.body.messages[3].content)).toContain('Order 1001 has shipped.');
  });

  it('a run left running by an owner that is gone (no lock names it) is resumed by the reconciler and completes once', async () => {
    const conversationId = await newConversation();
    fake.enqueue({ text: 'Resumed and answered.' });
    const runId = randomUUID();
    await db.query(
      `INSERT INTO runs (id, tenant_id, conversation_id, agent_name, source, status, message, started_at)
       VALUES ($1, $2, $3, 'support', 'rest', 'running', 'Hello?', now())`,
      [runId, t.tenantId, conversationId],
    );
    const finished = await waitUntil(
      () => t.request('GET', `/v1/runs/${runId}`),
      (r) => r.body.status !== 'running',
      10_000,
      'the orphaned run to be resumed',
    );
    expect(finished.body).toMatchObject({ status: 'completed', stop_reason: 'end_turn' });
    expect(fake.requests).toHaveLength(1);
    const stored = await t.request('GET', `/v1/conversations/${conversationId}`);
    expect(stored.body.message_count).toBe(2);
  });

  it('a run that keeps stopping with its process is failed after MAX_RECONCILER_RESUMES resumes, not resumed forever', async () => {
    const conversationId = await newConversation();
    const runId = randomUUID();
    await db.query(
      `INSERT INTO runs (id, tenant_id, conversation_id, agent_name, source, status, message, started_at, resumes)
       VALUES ($1, $2, $3, 'support', 'rest', 'running', 'Hello?', now(), $4)`,
      [runId, t.tenantId, conversationId, MAX_RECONCILER_RESUMES],
    );
    const finished = await waitUntil(
      () => t.request('GET', `/v1/runs/${runId}`),
      (r) => r.body.status !== 'running',
      10_000,
      'the run to be given up',
    );
    expect(finished.body).toMatchObject({
      status: 'failed',
      error: { error: { type: 'service_unavailable' } },
    });
    expect(fake.requests).toHaveLength(0);
  });

  it('the conversation lock belongs to its run: the same run takes it over at once (fenced higher, the earlier lease lost), another run is refused', async () => {
    const lock = t.app.get(ConversationLock);
    const conversationId = randomUUID();
    const runId = randomUUID();
    const first = await lock.acquire(conversationId, { runId });
    try {
      expect((await lock.holders([conversationId, randomUUID()])).get(conversationId)).toBe(runId);
      await expect(
        lock.acquire(conversationId, { runId: randomUUID(), takeover: true }),
      ).rejects.toBeInstanceOf(ConversationBusyError);
      // Without takeover, even the same run waits for the lease to go (the reconciler's way: never over a live owner).
      await expect(lock.acquire(conversationId, { runId })).rejects.toBeInstanceOf(ConversationBusyError);
      const second = await lock.acquire(conversationId, { runId, takeover: true });
      expect(second.fence).toBeGreaterThan(first.fence);
      // The earlier execution learns at its next renewal (a third of the 1 s TTL) that it lost the lock.
      await waitUntil(async () => first.lost.aborted, Boolean, 3_000, 'the earlier lease to be lost');
      await second.release();
      expect((await lock.holders([conversationId])).get(conversationId)).toBeUndefined();
    } finally {
      await first.release();
    }
  });

  it('a lease taken before its run was known (a queued run dispatched) is named after the run, which then takes it over at once', async () => {
    const lock = t.app.get(ConversationLock);
    const conversationId = randomUUID();
    const runId = randomUUID();
    const first = await lock.acquire(conversationId);
    try {
      expect((await lock.holders([conversationId])).get(conversationId)).toBeNull();
      await expect(lock.acquire(conversationId, { runId, takeover: true })).rejects.toBeInstanceOf(
        ConversationBusyError,
      );
      expect(await first.nameRun(runId)).toBe(true);
      expect((await lock.holders([conversationId])).get(conversationId)).toBe(runId);
      const second = await lock.acquire(conversationId, { runId, takeover: true });
      expect(second.fence).toBeGreaterThan(first.fence);
      // The first lease no longer holds the lock: naming it again changes nothing.
      expect(await first.nameRun(randomUUID())).toBe(false);
      await second.release();
    } finally {
      await first.release();
    }
  });
});
