// Durable runs end to end (contract version 2, "Runs"): every turn is a run with a row, numbered events in a
// per-conversation log, resumable over Socket.IO and SSE on either of two instances, multitask strategies, task
// runs watched and cancelled from their conversation, and the runs API. Real PostgreSQL, Redis, Bull, HTTP and
// sockets; only the model provider is the fake server.
import { randomUUID } from 'node:crypto';
import type { Namespace } from 'socket.io';
import { DataSource } from 'typeorm';
import { ApiKeyService } from '@lib/auth';
import { taskRoom } from '@lib/realtime';
import { ToolRegistry } from '@lib/tools';
import { ChatGateway } from '../apps/api/src/realtime/chat.gateway';
import { FakeAnthropic } from './support/fake-anthropic';
import { removeTenantData, startTestApp, TestApp } from './support/app';
import { connectSocket, RecordedEvent, TestSocket } from './support/socket';
import { SseReader } from './support/sse';
import { removeQueueKeys, testQueuePrefix, waitForStatus, waitUntil } from './support/tasks';

jest.setTimeout(30_000);

const RUN_EVENTS = new Set([
  'run_started',
  'text',
  'tool_start',
  'tool_end',
  'approval_required',
  'done',
  'error',
]);
const RUN_STATUS_FIELDS = [
  'run_id',
  'conversation_id',
  'agent_name',
  'source',
  'status',
  'stop_reason',
  'error',
  'input_tokens',
  'output_tokens',
  'cost_usd',
  'created_at',
  'started_at',
  'finished_at',
  'pending_approvals',
  'task_id',
].sort();

/** A run event as a socket or an SSE stream saw it. */
interface SeenEvent {
  name: string;
  payload: any;
}

/** The run events a socket recorded (not task_* nor refusals). */
function runEvents(events: RecordedEvent[]): SeenEvent[] {
  return events.filter((e) => RUN_EVENTS.has(e.name) && typeof e.payload?.seq === 'number');
}

const textOf = (events: SeenEvent[]) =>
  events
    .filter((e) => e.name === 'text')
    .map((e) => e.payload.content)
    .join('');

/** Sequence numbers strictly increase: no repeat, no step back. */
function expectStrictlyIncreasing(events: SeenEvent[]): void {
  const seqs = events.map((e) => e.payload.seq as number);
  seqs.forEach((seq, i) => {
    expect(Number.isInteger(seq)).toBe(true);
    if (i > 0) expect(seq).toBeGreaterThan(seqs[i - 1]);
  });
}

/** The text of a stored message, whether its content is a string or blocks. */
function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  return (content as Array<{ type: string; text?: string }>)
    .filter((b) => b.type === 'text')
    .map((b) => b.text)
    .join('');
}

/** Every tool_use in stored history has its tool_result in the next message. */
function expectToolUsesPaired(messages: Array<{ role: string; content: unknown }>): void {
  messages.forEach((message, i) => {
    const uses = Array.isArray(message.content)
      ? message.content
          .filter((b: { type: string }) => b.type === 'tool_use')
          .map((b: { id: string }) => b.id)
      : [];
    if (!uses.length) return;
    const next = messages[i + 1];
    const answered = Array.isArray(next?.content)
      ? next.content
          .filter((b: { type: string }) => b.type === 'tool_result')
          .map((b: { tool_use_id: string }) => b.tool_use_id)
      : [];
    expect(answered).toEqual(uses);
  });
}

/** A tool that runs until its run is cancelled (or 8 s pass): lets a test interrupt mid-tool. */
let toolStarted: () => void = () => undefined;
const waitForSignal = {
  name: 'wait_for_signal',
  description: 'Waits until cancelled. Test only.',
  inputSchema: { type: 'object', properties: {}, additionalProperties: false },
  timeoutMs: 15_000,
  execute: (_input: unknown, context: { signal: AbortSignal }) =>
    new Promise((resolve, reject) => {
      toolStarted();
      const timer = setTimeout(() => resolve('waited'), 8_000);
      context.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new Error('aborted'));
      });
    }),
};

const prefix = testQueuePrefix('runs');

/** The /chat namespace of an instance, to look at a socket's server-side state when an event had no acknowledgement. */
const namespaceOf = (app: TestApp) =>
  (app.app.get(ChatGateway) as unknown as { namespace: Namespace }).namespace;

describe('durable runs', () => {
  let fake: FakeAnthropic;
  let a: TestApp;
  let b: TestApp;
  const sockets: TestSocket[] = [];
  const streams: AbortController[] = [];
  const otherTenant = `test-other-${randomUUID()}`;
  let otherKey: string;

  const env = (workers: boolean) => ({
    ANTHROPIC_API_KEY: 'sk-ant-test',
    ANTHROPIC_BASE_URL: fake.url,
    ANTHROPIC_MODEL: 'claude-sonnet-4-6',
    LLM_MAX_RETRIES: '0',
    SSE_HEARTBEAT_MS: '1000',
    RATE_LIMIT_REQUESTS: '0',
    // Tasks run in instance A only; B serves REST and sockets.
    RUN_WORKERS_IN_API: workers ? 'true' : 'false',
    QUEUE_PREFIX: prefix,
    TASK_MAX_ATTEMPTS: '1',
  });

  const socketOn = async (app: TestApp) => {
    const s = await connectSocket(app.url, a.userKey);
    sockets.push(s);
    return s;
  };
  const conversation = async (id: string) => {
    const res = await a.request('GET', `/v1/conversations/${id}`);
    expect(res.status).toBe(200);
    return res.body as { messages: Array<{ role: string; content: unknown }> };
  };
  /** Every assistant text of the conversation, in stored order. */
  const storedAnswer = async (id: string) =>
    (await conversation(id)).messages
      .filter((m) => m.role === 'assistant')
      .map((m) => messageText(m.content))
      .join('');
  const runOf = async (id: string, app = a) =>
    (await app.request('GET', `/v1/runs/${id}`, { key: a.userKey })).body;
  const waitForRun = (id: string, statuses: string[]) =>
    waitUntil(
      () => runOf(id),
      (run) => statuses.includes(run.status),
      15_000,
      `run ${id} to be ${statuses.join(' or ')}`,
    );
  const newConversation = async () => {
    const res = await a.request('POST', '/v1/conversations', { json: { agent_name: 'support' } });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  /** Opens an SSE request to instance `app`; closed after the test. */
  const openSse = async (
    app: TestApp,
    method: 'GET' | 'POST',
    path: string,
    options: { json?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const controller = new AbortController();
    streams.push(controller);
    const response = await fetch(`${app.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${a.userKey}`,
        ...(options.json !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      body: options.json !== undefined ? JSON.stringify(options.json) : undefined,
      signal: controller.signal,
    });
    return { response, controller };
  };

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    a = await startTestApp(env(true));
    // A second instance, same PostgreSQL and Redis, same tenant.
    b = await startTestApp({ ...env(false), DEFAULT_TENANT: a.tenantId });
    for (const app of [a, b]) app.app.get(ToolRegistry).register(waitForSignal);
    // An agent of the tenant, stored like any other; both instances offer the tool it names.
    const waiter = await a.request('POST', '/v1/agents', {
      key: a.adminKey,
      json: {
        name: 'waiter',
        description: 'Test agent with a tool that waits.',
        system_prompt: 'Test.',
        temperature: 0,
        max_iterations: 3,
        max_tokens: 256,
        tools: ['wait_for_signal'],
      },
    });
    expect(waiter.status).toBe(201);
    otherKey = (
      await a.app.get(ApiKeyService).create({ tenant: otherTenant, role: 'user', name: 'other tenant' })
    ).key;
  });

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    for (const stream of streams.splice(0)) stream.abort();
    fake.reset();
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
    await removeTenantData(otherTenant);
    await fake?.stop();
    await removeQueueKeys(prefix);
  });

  describe('resume over Socket.IO', () => {
    it('a socket dropped mid-run rejoins with after_seq: the replay and the live rest complete the answer exactly', async () => {
      const firstCall = fake.gate();
      const secondCall = fake.gate();
      fake.enqueue(
        {
          text: 'Checking. ',
          toolUses: [{ id: 'toolu_r1', name: 'lookup_order', input: { order_number: '1001' } }],
          gate: firstCall,
        },
        { text: 'Order 1001 has shipped with UPS today.', gate: secondCall },
      );
      const first = await socketOn(a);
      const ack = await first.call('message', { message: 'Where is order 1001?' });
      expect(ack).toEqual({ conversation_id: expect.any(String), run_id: expect.any(String) });
      await first.next('text');
      // The connection drops: the run goes on (on_disconnect defaults to continue).
      first.close();
      const beforeDrop = runEvents(first.events);
      const lastSeen = beforeDrop.at(-1)!.payload.seq as number;

      firstCall.release();
      await secondCall.reached;
      // Held mid-answer: the tool ran and the second model call has streamed its first delta, unseen by anyone.
      const second = await socketOn(a);
      const join = await second.call('join', { conversation_id: ack.conversation_id, after_seq: lastSeen });
      expect(join).toEqual({
        conversation_id: ack.conversation_id,
        last_seq: expect.any(Number),
        running_run_id: ack.run_id,
        replayed: expect.any(Number),
        truncated: false,
      });
      expect(join.replayed).toBeGreaterThanOrEqual(3); // tool_start, tool_end, the second call's first delta
      expect(join.last_seq).toBe(lastSeen + join.replayed);
      secondCall.release();
      const done = await second.next('done', (p) => p.run_id === ack.run_id, 15_000);
      expect(done).toMatchObject({
        run_id: ack.run_id,
        conversation_id: ack.conversation_id,
        stop_reason: 'end_turn',
      });

      const afterRejoin = runEvents(second.events);
      // The replayed events come first, each numbered after the drop.
      expect(afterRejoin.slice(0, join.replayed).map((e) => e.payload.seq)).toEqual(
        Array.from({ length: join.replayed }, (_, i) => lastSeen + 1 + i),
      );
      const all = [...beforeDrop, ...afterRejoin];
      expectStrictlyIncreasing(all);
      expect(all[0]).toMatchObject({
        name: 'run_started',
        payload: { run_id: ack.run_id, source: 'socket' },
      });
      expect(
        all.every(
          (e) => e.payload.run_id === ack.run_id && e.payload.conversation_id === ack.conversation_id,
        ),
      ).toBe(true);
      expect(all.map((e) => e.name).filter((n) => n === 'done' || n === 'error')).toEqual(['done']);
      expect(all.map((e) => e.name)).toEqual(expect.arrayContaining(['tool_start', 'tool_end']));
      expect(textOf(all)).toBe(await storedAnswer(ack.conversation_id));
      expect(textOf(all)).toBe('Checking. Order 1001 has shipped with UPS today.');
      expect(await runOf(ack.run_id)).toMatchObject({
        status: 'completed',
        stop_reason: 'end_turn',
        source: 'socket',
      });
    });

    it('join without after_seq is live only, and after_seq 0 replays the whole retained log', async () => {
      fake.enqueue({ text: 'Already said.' });
      const done = await a.request('POST', '/v1/chat', { json: { message: 'say it' } });
      expect(done.status).toBe(200);
      const id = done.body.conversation_id;
      const live = await socketOn(a);
      const liveJoin = await live.call('join', { conversation_id: id });
      expect(liveJoin).toMatchObject({ conversation_id: id, replayed: 0, truncated: false });
      expect(liveJoin.running_run_id).toBeUndefined();
      const replay = await socketOn(b);
      const replayJoin = await replay.call('join', { conversation_id: id, after_seq: 0 });
      expect(replayJoin).toMatchObject({
        conversation_id: id,
        last_seq: liveJoin.last_seq,
        truncated: false,
      });
      await replay.next('done');
      const replayed = runEvents(replay.events);
      expect(replayed).toHaveLength(replayJoin.replayed);
      expect(replayed[0]).toMatchObject({
        name: 'run_started',
        payload: { run_id: done.body.run_id, source: 'rest' },
      });
      expect(replayed.at(-1)!.payload.seq).toBe(replayJoin.last_seq);
      expect(textOf(replayed)).toBe('Already said.');
      expect(runEvents(live.events)).toEqual([]);
    });

    it('resumes on instance B while the run still produces events on instance A: no gap, no duplicate', async () => {
      const id = await newConversation();
      const words = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
      const held = fake.gate();
      fake.enqueue(
        // Paced: the resume happens while deltas are still coming.
        {
          text: words,
          eventDelayMs: 15,
          toolUses: [{ id: 'toolu_ab', name: 'lookup_order', input: { order_number: '1002' } }],
        },
        { text: 'And that is all.', gate: held },
      );
      const onA = await socketOn(a);
      await onA.call('join', { conversation_id: id });
      const rest = a.request('POST', '/v1/chat', { json: { message: 'talk a while', conversation_id: id } });
      await onA.waitFor(() => onA.named('text').length >= 3, 15_000);
      onA.close();
      const beforeDrop = runEvents(onA.events);
      const lastSeen = beforeDrop.at(-1)!.payload.seq as number;

      const onB = await socketOn(b);
      const join = await onB.call('join', { conversation_id: id, after_seq: lastSeen });
      expect(join).toMatchObject({
        conversation_id: id,
        truncated: false,
        running_run_id: expect.any(String),
      });
      held.release();
      const answer = await rest;
      expect(answer.status).toBe(200);
      const done = await onB.next('done', (p) => p.run_id === answer.body.run_id, 15_000);
      expect(done.stop_reason).toBe('end_turn');
      expect(join.running_run_id).toBe(answer.body.run_id);

      const all = [...beforeDrop, ...runEvents(onB.events)];
      expectStrictlyIncreasing(all);
      expect(all[0]).toMatchObject({
        name: 'run_started',
        payload: { run_id: answer.body.run_id, source: 'rest' },
      });
      expect(textOf(all)).toBe(`${words}And that is all.`);
      expect(textOf(all)).toBe(await storedAnswer(id));
      expect(textOf(all)).toBe(answer.body.response);
    });
  });

  describe('resume over SSE', () => {
    it('a dropped POST /v1/chat/stream resumes with Last-Event-ID; the run was not cancelled; the stream stays open for later runs', async () => {
      const firstCall = fake.gate();
      const secondCall = fake.gate();
      fake.enqueue(
        {
          text: 'Looking. ',
          toolUses: [{ id: 'toolu_sse1', name: 'lookup_order', input: { order_number: '1001' } }],
          gate: firstCall,
        },
        { text: 'It left the warehouse yesterday.', gate: secondCall },
      );
      const { response, controller } = await openSse(a, 'POST', '/v1/chat/stream', {
        json: { message: 'Where is it?' },
      });
      expect(response.status).toBe(200);
      const dropped = new SseReader(response);
      const firstText = await dropped.until((f) => f.event === 'text');
      controller.abort();
      const beforeDrop = dropped.events;
      for (const frame of dropped.frames.filter((f) => f.event)) expect(frame.id).toBe(frame.data.seq);
      const conversationId = firstText.data.conversation_id as string;
      const runId = firstText.data.run_id as string;
      expect(beforeDrop[0]).toMatchObject({ name: 'run_started', payload: { run_id: runId, source: 'sse' } });

      firstCall.release();
      await secondCall.reached;
      const resumed = await openSse(b, 'GET', `/v1/conversations/${conversationId}/events`, {
        headers: { 'Last-Event-ID': String(firstText.id) },
      });
      expect(resumed.response.status).toBe(200);
      expect(resumed.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const rest = new SseReader(resumed.response);
      secondCall.release();
      await rest.until((f) => f.event === 'done' && f.data.run_id === runId);
      for (const frame of rest.frames.filter((f) => f.event)) expect(frame.id).toBe(frame.data.seq);

      const all = [...beforeDrop, ...rest.events];
      expectStrictlyIncreasing(all);
      expect(all.filter((e) => e.name === 'done')).toHaveLength(1);
      expect(textOf(all)).toBe('Looking. It left the warehouse yesterday.');
      expect(textOf(all)).toBe(await storedAnswer(conversationId));
      expect(await runOf(runId)).toMatchObject({
        status: 'completed',
        stop_reason: 'end_turn',
        source: 'sse',
      });

      // The same stream carries the conversation's next run, numbered after the first.
      fake.enqueue({ text: 'A later answer.' });
      const later = await b.request('POST', '/v1/chat', {
        json: { message: 'anything else?', conversation_id: conversationId },
        key: a.userKey,
      });
      expect(later.status).toBe(200);
      const laterDone = await rest.until((f) => f.event === 'done' && f.data.run_id === later.body.run_id);
      const laterEvents = rest.events.filter((e) => e.payload.run_id === later.body.run_id);
      expect(laterEvents[0]).toMatchObject({ name: 'run_started', payload: { source: 'rest' } });
      expect(laterEvents[0].payload.seq).toBe(all.at(-1)!.payload.seq + 1);
      expect(textOf(laterEvents)).toBe('A later answer.');
      expect(laterDone.id).toBe(laterEvents.at(-1)!.payload.seq);
      expectStrictlyIncreasing(rest.events);
    });

    it('after_seq in the query replays exactly the events after it; an id past the end replays nothing', async () => {
      fake.enqueue({ text: 'First run.' }, { text: 'Second run.' });
      const first = await a.request('POST', '/v1/chat', { json: { message: 'one' } });
      const id = first.body.conversation_id;
      const second = await a.request('POST', '/v1/chat', { json: { message: 'two', conversation_id: id } });
      expect(second.status).toBe(200);

      const everything = new SseReader(
        (await openSse(a, 'GET', `/v1/conversations/${id}/events?after_seq=0`)).response,
      );
      await everything.until((f) => f.event === 'done' && f.data.run_id === second.body.run_id);
      const all = everything.events;
      expectStrictlyIncreasing(all);
      expect(all.filter((e) => e.name === 'run_started').map((e) => e.payload.run_id)).toEqual([
        first.body.run_id,
        second.body.run_id,
      ]);
      expect(textOf(all)).toBe('First run.Second run.');

      const secondStart = all.find(
        (e) => e.name === 'run_started' && e.payload.run_id === second.body.run_id,
      )!;
      const fromSecond = new SseReader(
        (await openSse(b, 'GET', `/v1/conversations/${id}/events?after_seq=${secondStart.payload.seq - 1}`))
          .response,
      );
      await fromSecond.until((f) => f.event === 'done');
      expect(fromSecond.events).toEqual(all.filter((e) => e.payload.run_id === second.body.run_id));

      // Nothing after the last number: the stream is open and quiet (heartbeats only) until the next run.
      const atEnd = new SseReader(
        (
          await openSse(a, 'GET', `/v1/conversations/${id}/events`, {
            headers: { 'Last-Event-ID': String(all.at(-1)!.payload.seq) },
          })
        ).response,
      );
      fake.enqueue({ text: 'Third run.' });
      const third = await a.request('POST', '/v1/chat', { json: { message: 'three', conversation_id: id } });
      await atEnd.until((f) => f.event === 'done');
      expect(atEnd.events.map((e) => e.payload.run_id)).toEqual(atEnd.events.map(() => third.body.run_id));
      expect(atEnd.events[0]).toMatchObject({
        name: 'run_started',
        payload: { seq: all.at(-1)!.payload.seq + 1 },
      });
    });
  });

  describe('task runs', () => {
    it("a socket that joins a task's conversation sees its deltas; TaskStatus names the conversation and the run", async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'The weekly report is ready for review.', gate });
      const created = await a.request('POST', '/v1/tasks', {
        json: { agent_name: 'support', instruction: 'Write the weekly report' },
      });
      expect(created.status).toBe(202);
      const taskId = created.body.task_id;
      await gate.reached;
      const running = (
        await waitUntil(
          () => a.request('GET', `/v1/tasks/${taskId}`),
          (r) => typeof r.body.run_id === 'string',
          15_000,
          'the task to name its run',
        )
      ).body;
      expect(running).toMatchObject({ status: 'running', conversation_id: expect.any(String) });
      // Joined on the instance that does not run tasks, from the start of the log.
      const s = await socketOn(b);
      const join = await s.call('join', { conversation_id: running.conversation_id, after_seq: 0 });
      expect(join).toMatchObject({ running_run_id: running.run_id, truncated: false });
      gate.release();
      const done = await s.next('done', (p) => p.run_id === running.run_id, 15_000);
      expect(done.stop_reason).toBe('end_turn');
      const finished = await waitForStatus(
        (id) => a.request('GET', `/v1/tasks/${id}`),
        taskId,
        ['completed'],
        15_000,
      );
      expect(finished).toMatchObject({ run_id: running.run_id, conversation_id: running.conversation_id });
      const seen = runEvents(s.events);
      expect(seen[0]).toMatchObject({
        name: 'run_started',
        payload: { run_id: running.run_id, source: 'task' },
      });
      expectStrictlyIncreasing(seen);
      expect(textOf(seen)).toBe('The weekly report is ready for review.');
      expect(textOf(seen)).toBe(finished.result);
      expect(await runOf(running.run_id)).toMatchObject({
        status: 'completed',
        source: 'task',
        task_id: taskId,
      });
    });

    it('a socket cancel {conversation_id} stops a task run: the task and its run end cancelled', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'This report is never finished', gate });
      const created = await a.request('POST', '/v1/tasks', {
        json: { agent_name: 'support', instruction: 'Write a long report' },
      });
      const taskId = created.body.task_id;
      await gate.reached;
      const running = (
        await waitUntil(
          () => a.request('GET', `/v1/tasks/${taskId}`),
          (r) => typeof r.body.run_id === 'string',
          15_000,
          'the task to name its run',
        )
      ).body;
      // From instance B, which does not run the task: the cancel crosses instances.
      const s = await socketOn(b);
      await s.call('join', { conversation_id: running.conversation_id });
      expect(await s.call('cancel', { conversation_id: running.conversation_id })).toEqual({
        conversation_id: running.conversation_id,
      });
      const done = await s.next('done', (p) => p.run_id === running.run_id, 15_000);
      expect(done.stop_reason).toBe('cancelled');
      const task = await waitForStatus(
        (id) => a.request('GET', `/v1/tasks/${id}`),
        taskId,
        ['cancelled', 'completed', 'failed'],
        15_000,
      );
      expect(task.status).toBe('cancelled');
      expect(await waitForRun(running.run_id, ['cancelled', 'completed', 'failed'])).toMatchObject({
        status: 'cancelled',
        stop_reason: 'cancelled',
      });
      gate.release();
    });
  });

  describe('multitask strategies', () => {
    it('enqueue: three messages queued behind a running run all run, in arrival order; a cancelled queued run never runs', async () => {
      const gate = fake.gate();
      fake.enqueue(
        { text: 'First answer.', gate },
        { text: 'Second answer.' },
        { text: 'Third answer.' },
        { text: 'Fourth answer.' },
      );
      const s = await socketOn(a);
      const first = await s.call('message', { message: 'first' });
      const id = first.conversation_id as string;
      await s.next('text');
      const runsOf = async () => (await a.request('GET', `/v1/conversations/${id}/runs?page_size=20`)).body;

      // The default strategy still refuses.
      const refused = await a.request('POST', '/v1/chat', { json: { message: 'nope', conversation_id: id } });
      expect(refused.status).toBe(409);
      expect(refused.body.error.type).toBe('conversation_busy');

      const second = a.request('POST', '/v1/chat', {
        json: { message: 'second', conversation_id: id, multitask_strategy: 'enqueue' },
      });
      const afterSecond = await waitUntil(
        runsOf,
        (body) => body.total === 2,
        15_000,
        'the second run to be queued',
      );
      const secondRunId = afterSecond.runs[0].run_id as string;
      const queued = await runOf(secondRunId);
      expect(queued).toMatchObject({ status: 'queued', started_at: null, finished_at: null, source: 'rest' });

      const third = await s.call('message', {
        message: 'third',
        conversation_id: id,
        multitask_strategy: 'enqueue',
      });
      expect(third).toEqual({ conversation_id: id, run_id: expect.any(String), status: 'queued' });
      expect(await runOf(third.run_id, b)).toMatchObject({ status: 'queued', source: 'socket' });

      const fourth = b.request('POST', '/v1/chat', {
        json: { message: 'fourth', conversation_id: id, multitask_strategy: 'enqueue' },
        key: a.userKey,
      });
      await waitUntil(runsOf, (body) => body.total === 4, 15_000, 'the fourth run to be queued');

      // A fifth, cancelled while it waits: it ends cancelled and never reaches the model.
      const fifth = await s.call('message', {
        message: 'fifth',
        conversation_id: id,
        multitask_strategy: 'enqueue',
      });
      expect(fifth.status).toBe('queued');
      const cancelled = await a.request('POST', `/v1/runs/${fifth.run_id}/cancel`);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({
        run_id: fifth.run_id,
        status: 'cancelled',
        stop_reason: 'cancelled',
      });

      gate.release();
      const [secondAnswer, fourthAnswer] = await Promise.all([second, fourth]);
      expect(secondAnswer.status).toBe(200);
      expect(secondAnswer.body).toMatchObject({ run_id: secondRunId, response: 'Second answer.' });
      expect(fourthAnswer.status).toBe(200);
      expect(fourthAnswer.body.response).toBe('Fourth answer.');
      const thirdDone = await s.next('done', (p) => p.run_id === third.run_id, 15_000);
      expect(thirdDone.stop_reason).toBe('end_turn');

      const messages = (await conversation(id)).messages;
      expect(messages.filter((m) => m.role === 'user').map((m) => messageText(m.content))).toEqual([
        'first',
        'second',
        'third',
        'fourth',
      ]);
      expect(messages.map((m) => `${m.role}:${messageText(m.content)}`)).toEqual([
        'user:first',
        'assistant:First answer.',
        'user:second',
        'assistant:Second answer.',
        'user:third',
        'assistant:Third answer.',
        'user:fourth',
        'assistant:Fourth answer.',
      ]);
      expect(fake.requests).toHaveLength(4);

      const runs = (await runsOf()).runs as Array<Record<string, any>>;
      expect(runs.map((r) => r.run_id)).toEqual([
        fifth.run_id,
        fourthAnswer.body.run_id,
        third.run_id,
        secondRunId,
        first.run_id,
      ]);
      expect(runs.map((r) => r.status)).toEqual([
        'cancelled',
        'completed',
        'completed',
        'completed',
        'completed',
      ]);
      // One at a time: each started after the one before it finished.
      const ran = runs.slice(1).reverse();
      for (let i = 1; i < ran.length; i += 1) {
        expect(Date.parse(ran[i].started_at)).toBeGreaterThanOrEqual(Date.parse(ran[i - 1].finished_at));
      }
      // The socket that follows the conversation saw every run, numbered in one increasing sequence.
      expectStrictlyIncreasing(runEvents(s.events));
    });

    it('interrupt: the running run ends cancelled mid-tool with its history valid, then the new one runs', async () => {
      const started = new Promise<void>((resolve) => (toolStarted = resolve));
      fake.enqueue(
        { text: 'Waiting. ', toolUses: [{ id: 'toolu_int', name: 'wait_for_signal', input: {} }] },
        { text: 'Interrupted and answered.' },
      );
      const s = await socketOn(a);
      const first = await s.call('message', { message: 'wait', agent_name: 'waiter' });
      await started;
      const second = await b.request('POST', '/v1/chat', {
        json: {
          message: 'never mind, answer this',
          conversation_id: first.conversation_id,
          multitask_strategy: 'interrupt',
        },
        key: a.userKey,
      });
      expect(second.status).toBe(200);
      expect(second.body.response).toBe('Interrupted and answered.');
      expect(await runOf(first.run_id)).toMatchObject({ status: 'cancelled', stop_reason: 'cancelled' });
      expect(await runOf(second.body.run_id)).toMatchObject({ status: 'completed', stop_reason: 'end_turn' });

      const firstDone = await s.next('done', (p) => p.run_id === first.run_id);
      expect(firstDone.stop_reason).toBe('cancelled');
      await s.next('done', (p) => p.run_id === second.body.run_id);
      expect(s.received('tool_end').find((p) => p.tool_use_id === 'toolu_int')).toMatchObject({
        is_error: true,
      });
      const events = runEvents(s.events);
      expectStrictlyIncreasing(events);
      const secondStart = events.find(
        (e) => e.name === 'run_started' && e.payload.run_id === second.body.run_id,
      )!;
      expect(secondStart.payload.seq).toBeGreaterThan(firstDone.seq);

      const messages = (await conversation(first.conversation_id)).messages;
      expectToolUsesPaired(messages);
      expect(
        messages.some((m) => Array.isArray(m.content) && m.content.some((b: any) => b.type === 'tool_use')),
      ).toBe(true);
      expect(messageText(messages.at(-1)!.content)).toBe('Interrupted and answered.');
      // The provider saw a valid history too (the fake refuses a tool_use without its tool_result).
      expect(fake.requests).toHaveLength(2);
    });

    it('refuses a multitask_strategy or an on_disconnect outside their values: 400 on REST and SSE, validation_error on the socket', async () => {
      for (const json of [
        { message: 'hi', multitask_strategy: 'queue' },
        { message: 'hi', multitask_strategy: '' },
        { message: 'hi', multitask_strategy: 1 },
        { message: 'hi', on_disconnect: 'stop' },
        { message: 'hi', on_disconnect: true },
      ]) {
        for (const path of ['/v1/chat', '/v1/chat/stream']) {
          const res = await a.request('POST', path, { json });
          expect(res.status).toBe(400);
          expect(res.body.error.type).toBe('validation_error');
        }
        const s = await socketOn(a);
        expect((await s.call('message', json)).error).toMatchObject({ type: 'validation_error' });
        s.untyped.emit('message', json);
        expect((await s.next('error')).type).toBe('validation_error');
        expect(s.socket.connected).toBe(true);
      }
      expect(fake.requests).toHaveLength(0);
    });
  });

  describe('client events without an acknowledgement', () => {
    it('cancel without a callback stops the run', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Stopped before the end', gate });
      const s = await socketOn(a);
      const ack = await s.call('message', { message: 'go' });
      await s.next('text');
      s.untyped.emit('cancel', { conversation_id: ack.conversation_id });
      const done = await s.next('done', (p) => p.run_id === ack.run_id, 15_000);
      expect(done.stop_reason).toBe('cancelled');
      expect(await waitForRun(ack.run_id, ['cancelled', 'completed'])).toMatchObject({ status: 'cancelled' });
      gate.release();
    });

    it('join and leave without a callback: joined, the socket gets events; after leave, none', async () => {
      fake.enqueue({ text: 'Before leaving.' });
      const first = await a.request('POST', '/v1/chat', { json: { message: 'one' } });
      const id = first.body.conversation_id;
      const s = await socketOn(a);
      s.untyped.emit('join', { conversation_id: id, after_seq: 0 });
      await s.next('done', (p) => p.run_id === first.body.run_id, 15_000);
      expect(textOf(runEvents(s.events))).toBe('Before leaving.');

      // Without an acknowledgement, the leave is seen in the socket's state on the server.
      const serverSocket = namespaceOf(a).sockets.get(s.socket.id!)!;
      const follows = () =>
        (serverSocket.data as { following?: Map<string, unknown> }).following?.has(id) ?? false;
      expect(follows()).toBe(true);
      s.untyped.emit('leave', { conversation_id: id });
      await waitUntil(
        async () => follows(),
        (still) => !still,
        15_000,
        'the socket to stop following',
      );
      const watcher = await socketOn(a);
      await watcher.call('join', { conversation_id: id });
      fake.enqueue({ text: 'After leaving.' });
      const second = await a.request('POST', '/v1/chat', { json: { message: 'two', conversation_id: id } });
      expect(second.status).toBe(200);
      await watcher.next('done', (p) => p.run_id === second.body.run_id);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(s.events.filter((e) => e.payload?.run_id === second.body.run_id)).toEqual([]);
      expect(s.socket.connected).toBe(true);
    });

    it('subscribe_task without a callback delivers task_done', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Task finished.', gate });
      const created = await a.request('POST', '/v1/tasks', {
        json: { agent_name: 'support', instruction: 'do it' },
      });
      const taskId = created.body.task_id;
      const s = await socketOn(a);
      s.untyped.emit('subscribe_task', { task_id: taskId });
      // Without an acknowledgement, the subscription is seen in the socket's rooms on the server.
      const namespace = namespaceOf(a);
      await waitUntil(
        async () => namespace.adapter.rooms.get(taskRoom(taskId))?.has(s.socket.id!) ?? false,
        (joined) => joined,
        15_000,
        'the socket to join the task room',
      );
      await gate.reached;
      gate.release();
      const done = await s.next('task_done', (p) => p.task_id === taskId, 15_000);
      expect(done).toMatchObject({ task_id: taskId, status: 'completed' });
    });

    it('a bad payload without a callback gets an error event and the socket stays open', async () => {
      const s = await socketOn(a);
      const bad: Array<[string, unknown]> = [
        ['join', { conversation_id: 'nope' }],
        ['leave', { conversation_id: 5 }],
        ['cancel', {}],
        ['subscribe_task', { task_id: 'x' }],
        ['join', 'not an object'],
      ];
      for (const [event, payload] of bad) s.untyped.emit(event, payload);
      await s.waitFor(() => s.named('error').length === bad.length, 15_000);
      expect(s.received('error').map((p) => p.type)).toEqual(bad.map(() => 'validation_error'));
      // Unknown (not another tenant's) conversation: not_found, also as an event.
      s.untyped.emit('cancel', { conversation_id: randomUUID() });
      await s.waitFor(() => s.named('error').length === bad.length + 1, 15_000);
      expect(s.received('error').at(-1)!.type).toBe('not_found');
      expect(s.socket.connected).toBe(true);
      fake.enqueue({ text: 'Still usable.' });
      const ack = await s.call('message', { message: 'still there?' });
      expect(ack.run_id).toEqual(expect.any(String));
      await s.next('done', (p) => p.run_id === ack.run_id);
    });
  });

  describe('the runs API', () => {
    it('GET /v1/runs/{id} answers RunStatus; ChatResponse and done carry run_id', async () => {
      fake.enqueue({ text: 'Counted.', usage: { input_tokens: 120, output_tokens: 8 } });
      const chat = await a.request('POST', '/v1/chat', { json: { message: 'count' } });
      expect(chat.status).toBe(200);
      expect(chat.body.run_id).toEqual(expect.any(String));
      const run = await a.request('GET', `/v1/runs/${chat.body.run_id}`);
      expect(run.status).toBe(200);
      expect(Object.keys(run.body).sort()).toEqual(RUN_STATUS_FIELDS);
      expect(run.body).toEqual({
        run_id: chat.body.run_id,
        conversation_id: chat.body.conversation_id,
        agent_name: 'support',
        source: 'rest',
        status: 'completed',
        stop_reason: 'end_turn',
        error: null,
        input_tokens: chat.body.input_tokens,
        output_tokens: chat.body.output_tokens,
        cost_usd: chat.body.cost_usd,
        created_at: expect.any(String),
        started_at: expect.any(String),
        finished_at: expect.any(String),
        pending_approvals: [],
        task_id: null,
      });
      expect(run.body.input_tokens).toBeGreaterThan(0);
      expect(Date.parse(run.body.started_at)).toBeLessThanOrEqual(Date.parse(run.body.finished_at));
      // The other instance reads the same row.
      expect((await b.request('GET', `/v1/runs/${chat.body.run_id}`, { key: a.userKey })).body).toEqual(
        run.body,
      );

      const s = await socketOn(b);
      fake.enqueue({ text: 'Again.' });
      const ack = await s.call('message', { message: 'again', conversation_id: chat.body.conversation_id });
      const done = await s.next('done', (p) => p.run_id === ack.run_id);
      expect(done).toMatchObject({ run_id: ack.run_id, conversation_id: chat.body.conversation_id });

      // A run's row goes in with the conversation its turn creates (REST) or on its own (the socket's second turn);
      // its last model response (no tool asked for) is journaled and its end recorded by the statement that stores
      // the turn: row, journal, calls and events agree.
      const db = a.app.get(DataSource);
      const rows = await db.query(
        `SELECT r.id, r.status, r.last_seq, s.step, s.kind, s.data->'call'->>'id' AS call_id,
                (SELECT count(*)::int FROM llm_calls c WHERE c.id::text = s.data->'call'->>'id') AS billed
           FROM runs r LEFT JOIN run_steps s ON s.run_id = r.id
          WHERE r.conversation_id = $1 ORDER BY r.created_at, s.step`,
        [chat.body.conversation_id],
      );
      expect(rows).toEqual([
        expect.objectContaining({
          id: chat.body.run_id,
          status: 'completed',
          step: 0,
          kind: 'model',
          billed: 1,
        }),
        {
          id: ack.run_id,
          status: 'completed',
          last_seq: String(done.seq),
          step: 0,
          kind: 'model',
          call_id: expect.any(String),
          billed: 1,
        },
      ]);
    });

    it('a failed run records the error envelope body its error event carried', async () => {
      fake.enqueue({ text: 'Going to fail now', errorEventAfter: 4 });
      const s = await socketOn(a);
      const ack = await s.call('message', { message: 'fail please' });
      const error = await s.next('error', (p) => p.run_id === ack.run_id, 15_000);
      expect(error).toMatchObject({ type: 'upstream_error', seq: expect.any(Number) });
      expect(await waitForRun(ack.run_id, ['failed', 'completed', 'cancelled'])).toMatchObject({
        status: 'failed',
        stop_reason: null,
        error: { error: { type: 'upstream_error', message: error.message } },
      });
    });

    it("GET /v1/conversations/{id}/runs lists a conversation's runs newest first, paginated", async () => {
      fake.enqueue({ text: 'One.' }, { text: 'Two.' }, { text: 'Three.' });
      const one = await a.request('POST', '/v1/chat', { json: { message: '1' } });
      const id = one.body.conversation_id;
      const two = await a.request('POST', '/v1/chat', { json: { message: '2', conversation_id: id } });
      const three = await a.request('POST', '/v1/chat', { json: { message: '3', conversation_id: id } });
      const page1 = await a.request('GET', `/v1/conversations/${id}/runs?page=1&page_size=2`);
      expect(page1.status).toBe(200);
      expect(page1.body).toMatchObject({ total: 3, page: 1, page_size: 2 });
      expect(page1.body.runs.map((r: { run_id: string }) => r.run_id)).toEqual([
        three.body.run_id,
        two.body.run_id,
      ]);
      const page2 = await a.request('GET', `/v1/conversations/${id}/runs?page=2&page_size=2`);
      expect(page2.body).toMatchObject({ total: 3, page: 2, page_size: 2 });
      expect(page2.body.runs.map((r: { run_id: string }) => r.run_id)).toEqual([one.body.run_id]);
      expect(Object.keys(page2.body.runs[0]).sort()).toEqual(RUN_STATUS_FIELDS);
      const beyond = await a.request('GET', `/v1/conversations/${id}/runs?page=3&page_size=2`);
      expect(beyond.body).toMatchObject({ runs: [], total: 3, page: 3 });
      expect((await a.request('GET', `/v1/conversations/${id}/runs?page_size=0`)).status).toBe(400);
      expect((await a.request('GET', `/v1/conversations/${id}/runs?page=-1`)).status).toBe(400);
    });

    it('POST /v1/runs/{id}/cancel stops a running run (on another instance) and returns a finished one as it is', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Cancelled through the API', gate });
      const s = await socketOn(a);
      const ack = await s.call('message', { message: 'run on A' });
      await s.next('text');
      const cancelled = await b.request('POST', `/v1/runs/${ack.run_id}/cancel`, { key: a.userKey });
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({
        run_id: ack.run_id,
        status: 'cancelled',
        stop_reason: 'cancelled',
      });
      expect(cancelled.body.finished_at).toEqual(expect.any(String));
      expect((await s.next('done', (p) => p.run_id === ack.run_id)).stop_reason).toBe('cancelled');
      gate.release();

      fake.enqueue({ text: 'Finished.' });
      const finished = await a.request('POST', '/v1/chat', { json: { message: 'finish' } });
      const before = await runOf(finished.body.run_id);
      const again = await a.request('POST', `/v1/runs/${finished.body.run_id}/cancel`);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(before);
      expect(again.body.status).toBe('completed');
      // Cancelling a cancelled run changes nothing either.
      const twice = await a.request('POST', `/v1/runs/${ack.run_id}/cancel`);
      expect(twice.body).toEqual(await runOf(ack.run_id));
    });

    it("answers 404 for another tenant's run or conversation and 400 for an id that is not a UUID", async () => {
      fake.enqueue({ text: 'Mine.' });
      const mine = await a.request('POST', '/v1/chat', { json: { message: 'mine' } });
      const runId = mine.body.run_id;
      const conversationId = mine.body.conversation_id;
      for (const [method, path] of [
        ['GET', `/v1/runs/${runId}`],
        ['POST', `/v1/runs/${runId}/cancel`],
        ['GET', `/v1/conversations/${conversationId}/runs`],
        ['GET', `/v1/conversations/${conversationId}/events?after_seq=0`],
      ]) {
        const res = await a.request(method, path, { key: otherKey });
        expect(res.status).toBe(404);
        expect(res.body.error.type).toBe('not_found');
      }
      for (const [method, path] of [
        ['GET', `/v1/runs/${randomUUID()}`],
        ['POST', `/v1/runs/${randomUUID()}/cancel`],
      ]) {
        expect((await a.request(method, path)).status).toBe(404);
      }
      for (const [method, path] of [
        ['GET', '/v1/runs/not-a-uuid'],
        ['POST', '/v1/runs/not-a-uuid/cancel'],
        ['GET', '/v1/conversations/not-a-uuid/runs'],
        ['GET', '/v1/conversations/not-a-uuid/events'],
      ]) {
        const res = await a.request(method, path);
        expect(res.status).toBe(400);
        expect(res.body.error.type).toBe('validation_error');
      }
      // The run was not touched by the other tenant's cancel.
      expect((await runOf(runId)).status).toBe('completed');
    });
  });

  describe('bad resume input', () => {
    it.each([
      ['negative', -1],
      ['not a whole number', 1.5],
      ['a numeric string', '3'],
      ['a string', 'abc'],
      ['null', null],
      ['too large', 2 ** 60],
      ['an object', { seq: 1 }],
    ])(
      'refuses a socket join with after_seq %s: validation_error, with and without a callback',
      async (_case, afterSeq) => {
        const id = await newConversation();
        const s = await socketOn(a);
        const ack = await s.call('join', { conversation_id: id, after_seq: afterSeq });
        expect(ack.error).toMatchObject({ type: 'validation_error', message: expect.any(String) });
        s.untyped.emit('join', { conversation_id: id, after_seq: afterSeq });
        expect(await s.next('error')).toMatchObject({ type: 'validation_error' });
        expect(s.socket.connected).toBe(true);
        expect(await s.call('join', { conversation_id: id, after_seq: 0 })).toMatchObject({
          conversation_id: id,
        });
      },
    );

    it('refuses after_seq in the query that is not a non-negative whole number, and a garbage Last-Event-ID: 400', async () => {
      const id = await newConversation();
      for (const value of ['-1', '1.5', 'abc', '1e400', '99999999999999999999']) {
        const res = await a.request(
          'GET',
          `/v1/conversations/${id}/events?after_seq=${encodeURIComponent(value)}`,
        );
        expect(res.status).toBe(400);
        expect(res.body.error.type).toBe('validation_error');
      }
      for (const header of ['abc', '-1', '1.5', '12abc', '99999999999999999999', '0x10']) {
        const res = await a.request('GET', `/v1/conversations/${id}/events`, {
          headers: { 'Last-Event-ID': header },
        });
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ type: 'validation_error' });
      }
      // Still served after all that.
      const { response } = await openSse(a, 'GET', `/v1/conversations/${id}/events`, {
        headers: { 'Last-Event-ID': '0' },
      });
      expect(response.status).toBe(200);
    });
  });

  describe('on_disconnect: "cancel" (version 1 behaviour, asked for)', () => {
    it('a socket that disconnects cancels the run it started', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Never finished by anyone', gate });
      const s = await socketOn(a);
      const ack = await s.call('message', { message: 'start and leave', on_disconnect: 'cancel' });
      await s.next('text');
      s.close();
      expect(await waitForRun(ack.run_id, ['cancelled', 'completed', 'failed'])).toMatchObject({
        status: 'cancelled',
        stop_reason: 'cancelled',
      });
      await fake.waitForAborts(1, 10_000);
      gate.release();
      expectToolUsesPaired((await conversation(ack.conversation_id)).messages);
    });

    it('an SSE client that goes away cancels the run it started', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Nobody will read this', gate });
      const { response, controller } = await openSse(a, 'POST', '/v1/chat/stream', {
        json: { message: 'leaving soon', on_disconnect: 'cancel' },
      });
      const reader = new SseReader(response);
      const text = await reader.until((f) => f.event === 'text');
      controller.abort();
      expect(await waitForRun(text.data.run_id, ['cancelled', 'completed', 'failed'])).toMatchObject({
        status: 'cancelled',
        source: 'sse',
      });
      await fake.waitForAborts(1, 10_000);
      gate.release();
    });

    it('without it, a socket that disconnects leaves its run running to the end', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Finished without a listener', gate });
      const s = await socketOn(a);
      const ack = await s.call('message', { message: 'start and leave', on_disconnect: 'continue' });
      await s.next('text');
      s.close();
      gate.release();
      expect(await waitForRun(ack.run_id, ['cancelled', 'completed', 'failed'])).toMatchObject({
        status: 'completed',
      });
      expect(await storedAnswer(ack.conversation_id)).toBe('Finished without a listener');
    });
  });
});
