// Real-time turns: runs over the Socket.IO gateway and SSE, the per-conversation lock, cancellation, what a dropped
// connection does, and two instances sharing one conversation's events (the runs' event log in Redis).
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { ToolRegistry } from '@lib/tools';
import { SseStreams } from '../apps/api/src/chat/sse-stream';
import { ChatGateway } from '../apps/api/src/realtime/chat.gateway';
import { FakeAnthropic } from './support/fake-anthropic';
import { startTestApp, TestApp } from './support/app';
import { waitUntil } from './support/tasks';
import { TEST_REDIS_URL } from './support/test-env';
import { connectError, connectSocket, RecordedEvent, TestSocket } from './support/socket';

// A busy machine: waits are long, and nothing is asserted about how fast something happened.
jest.setTimeout(60_000);
const WAIT_MS = 20_000;

const TERMINAL = new Set(['done', 'error']);
const isDone = (e: RecordedEvent) => e.name === 'done';
const isText = (e: RecordedEvent) => e.name === 'text';

/** Every tool_use in stored history has its tool_result in the next message. */
function assertConsistent(messages: Array<{ role: string; content: unknown }>): void {
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

/** The run events a socket received (name and payload), optionally of some runs only. */
function runEvents(s: TestSocket, runIds?: string[]): Array<{ name: string; payload: any }> {
  return s.events
    .filter((e) => typeof e.payload?.run_id === 'string' && (!runIds || runIds.includes(e.payload.run_id)))
    .map(({ name, payload }) => ({ name, payload }));
}

/** Each event once and in order: the sequence numbers strictly increase. */
function expectIncreasingSeqs(events: Array<{ payload: { seq?: unknown } }>): void {
  const seqs = events.map((e) => e.payload.seq);
  expect(seqs.every((seq) => Number.isInteger(seq))).toBe(true);
  for (let i = 1; i < seqs.length; i += 1) {
    expect([i, (seqs[i] as number) > (seqs[i - 1] as number)]).toEqual([i, true]);
  }
}

const texts = (s: TestSocket, runId?: string) =>
  s
    .named('text')
    .filter((e) => runId === undefined || e.payload.run_id === runId)
    .map((e) => e.payload.content)
    .join('');

/** A tool that runs until the turn is cancelled (or 5 s pass): lets a test cancel mid-tool. */
let toolStarted: () => void = () => undefined;
const waitForSignal = {
  name: 'wait_for_signal',
  description: 'Waits until cancelled. Test only.',
  inputSchema: { type: 'object', properties: {}, additionalProperties: false },
  timeoutMs: 10_000,
  execute: (_input: unknown, context: { signal: AbortSignal }) =>
    new Promise((resolve, reject) => {
      toolStarted();
      const timer = setTimeout(() => resolve('waited'), 5_000);
      context.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new Error('aborted'));
      });
    }),
};

const queuePrefix = `streaming-${randomUUID().slice(0, 8)}`;

describe('streaming turns', () => {
  let fake: FakeAnthropic;
  let a: TestApp;
  let b: TestApp;
  let redis: Redis;
  const sockets: TestSocket[] = [];

  const env = () => ({
    ANTHROPIC_API_KEY: 'sk-ant-test',
    ANTHROPIC_BASE_URL: fake.url,
    ANTHROPIC_MODEL: 'claude-sonnet-4-6',
    LLM_MAX_RETRIES: '0',
    SSE_HEARTBEAT_MS: '150',
    SOCKET_MAX_PAYLOAD_BYTES: '65536',
    RUN_WORKERS_IN_API: 'true',
    QUEUE_PREFIX: queuePrefix,
  });
  /** A socket whose waits and acknowledgements allow for a busy machine. */
  const socketOn = async (app: TestApp, key = a.userKey): Promise<TestSocket> => {
    const s = await connectSocket(app.url, key);
    sockets.push(s);
    return {
      ...s,
      call: (event, payload) => s.untyped.timeout(WAIT_MS).emitWithAck(event, payload),
      waitFor: (predicate, timeoutMs = WAIT_MS) => s.waitFor(predicate, timeoutMs),
    };
  };
  const stored = async (conversationId: string) =>
    (await a.request('GET', `/v1/conversations/${conversationId}`)).body;
  /** The run as GET /v1/runs/{id} answers once it has ended. */
  const finishedRun = async (app: TestApp, runId: string) =>
    (
      await waitUntil(
        () => app.request('GET', `/v1/runs/${runId}`),
        (r) => r.status === 200 && !['queued', 'running'].includes(r.body.status),
        WAIT_MS,
        `run ${runId} to end`,
      )
    ).body;
  /** Resolves once `check` holds (polled), so a test knows the server has seen what the client did. */
  const serverSees = (check: () => boolean, what: string) =>
    waitUntil(
      async () => check(),
      (held) => held,
      WAIT_MS,
      what,
    );

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    a = await startTestApp(env());
    // A second instance on another port, same PostgreSQL and Redis, same tenant.
    b = await startTestApp({ ...env(), DEFAULT_TENANT: a.tenantId });
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
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  }, 120_000);

  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
    fake.reset();
  });

  afterAll(async () => {
    redis.disconnect();
    await b.close();
    await a.close();
    await fake.stop();
  });

  describe('Socket.IO /chat', () => {
    it.each([
      ['no token', undefined],
      ['a malformed token', 'not-a-key'],
      ['an unknown key', 'ak_live_0000000000000000000000000000000000000000000'],
      ['a token that is not a string', 42],
    ])('refuses a handshake with %s: connect_error unauthorized', async (_case, token) => {
      const error = await connectError(a.url, token);
      expect(error.message).toBe('unauthorized');
    });

    it('streams deltas as the provider produces them: run_started, then the first delta before the provider has finished', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'One two three four five', gate });
      const s = await socketOn(a);
      const ack = await s.call('message', { message: 'Count to five' });
      expect(ack).toEqual({ conversation_id: expect.any(String), run_id: expect.any(String) });
      const run = { conversation_id: ack.conversation_id, run_id: ack.run_id };
      const first = await s.waitFor(isText);
      expect(gate.isWaiting).toBe(true);
      expect(s.named('done')).toHaveLength(0);
      expect(s.events[0]).toMatchObject({
        name: 'run_started',
        payload: { ...run, seq: expect.any(Number), source: 'socket' },
      });
      expect(Object.keys(s.events[0].payload).sort()).toEqual(['conversation_id', 'run_id', 'seq', 'source']);
      expect(first.payload).toEqual({ ...run, seq: expect.any(Number), content: 'One ' });
      expect(first.payload.seq).toBeGreaterThan(s.events[0].payload.seq);
      gate.release();
      const done = await s.waitFor(isDone);
      expect(texts(s)).toBe('One two three four five');
      expect(done.payload).toEqual({
        ...run,
        seq: expect.any(Number),
        message_id: expect.any(String),
        stop_reason: 'end_turn',
        input_tokens: expect.any(Number),
        output_tokens: expect.any(Number),
        tokens_used: expect.any(Number),
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
        cost_usd: expect.any(Number),
        latency_ms: expect.any(Number),
        context_tokens: expect.any(Number),
        compacted: false,
      });
      const names = s.events.map((e) => e.name);
      expect(names.indexOf('done')).toBe(names.length - 1);
      expect(runEvents(s)).toHaveLength(s.events.length);
      expect(runEvents(s, [ack.run_id])).toHaveLength(s.events.length);
      expectIncreasingSeqs(s.events);
    });

    it('emits tool_start before its tool_end, then the answer, in order', async () => {
      fake.enqueue(
        {
          text: 'Checking.',
          toolUses: [{ id: 'toolu_s1', name: 'lookup_order', input: { order_number: '1001' } }],
        },
        { text: 'It shipped.' },
      );
      const s = await socketOn(a);
      const ack = await s.call('message', { message: 'Where is order 1001?' });
      await s.waitFor(isDone);
      const names = s.events.map((e) => e.name);
      expect(names.indexOf('tool_start')).toBeLessThan(names.indexOf('tool_end'));
      expect(names.lastIndexOf('text')).toBeGreaterThan(names.indexOf('tool_end'));
      expect(s.named('tool_start')[0].payload).toEqual({
        conversation_id: ack.conversation_id,
        run_id: ack.run_id,
        seq: expect.any(Number),
        tool_name: 'lookup_order',
        tool_use_id: 'toolu_s1',
        arguments: { order_number: '1001' },
      });
      expect(s.named('tool_end')[0].payload).toEqual({
        conversation_id: ack.conversation_id,
        run_id: ack.run_id,
        seq: expect.any(Number),
        tool_name: 'lookup_order',
        tool_use_id: 'toolu_s1',
        is_error: false,
        duration_ms: expect.any(Number),
        result_summary: expect.stringContaining('1001'),
      });
      expectIncreasingSeqs(s.events);
    });

    it.each([
      ['a missing message', {}],
      ['a message over 10,000 characters', { message: 'x'.repeat(10_001) }],
      ['a conversation_id that is not a UUID', { message: 'hi', conversation_id: 'nope' }],
      ['an unknown agent', { message: 'hi', agent_name: 'nobody' }],
      ['an unknown on_disconnect', { message: 'hi', on_disconnect: 'pause' }],
      ['a payload that is not an object', 'just a string'],
    ])(
      'refuses %s with validation_error through the acknowledgement and stays usable',
      async (_case, payload) => {
        const s = await socketOn(a);
        const ack = await s.call('message', payload);
        expect(ack.error).toMatchObject({ type: 'validation_error', message: expect.any(String) });
        fake.enqueue({ text: 'Still here.' });
        const ok = await s.call('message', { message: 'hello again' });
        expect(ok).toEqual({ conversation_id: expect.any(String), run_id: expect.any(String) });
        await s.waitFor(isDone);
        expect(s.socket.connected).toBe(true);
      },
    );

    it('answers a refused event without acknowledgement as an error event', async () => {
      const s = await socketOn(a);
      s.socket.emit('message', { message: '' });
      const error = await s.waitFor((e) => e.name === 'error');
      expect(error.payload).toMatchObject({ type: 'validation_error' });
      // A refused client event belongs to no run.
      expect(error.payload).not.toHaveProperty('run_id');
      expect(error.payload).not.toHaveProperty('seq');
      expect(s.socket.connected).toBe(true);
    });

    it('drops a frame larger than the configured maximum', async () => {
      const s = await socketOn(a);
      const closed = new Promise<string>((resolve) =>
        s.socket.once('disconnect', (reason) => resolve(reason)),
      );
      s.socket.emit('message', { message: 'x'.repeat(70_000) });
      expect(await closed).toMatch(/transport (close|error)/);
    });

    it('joins only conversations of its own tenant: another tenant or an unknown id is not_found', async () => {
      const other = await startTestApp(env());
      try {
        const created = await other.request('POST', '/v1/conversations', { json: { agent_name: 'support' } });
        const s = await socketOn(a);
        expect((await s.call('join', { conversation_id: created.body.id })).error.type).toBe('not_found');
        expect((await s.call('join', { conversation_id: randomUUID() })).error.type).toBe('not_found');
        expect((await s.call('join', { conversation_id: 'bad' })).error.type).toBe('validation_error');
      } finally {
        await other.close();
      }
    });

    it('answers 409 conversation_busy on REST and on the socket while a turn runs, and join names the running run', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Slow turn', gate }, { text: 'Next turn' });
      const s = await socketOn(a);
      const ack = await s.call('message', { message: 'first' });
      await s.waitFor(isText);
      const rest = await a.request('POST', '/v1/chat', {
        json: { message: 'second', conversation_id: ack.conversation_id },
      });
      expect(rest.status).toBe(409);
      expect(rest.body.error).toMatchObject({
        type: 'conversation_busy',
        message: expect.stringMatching(/since \d{4}-/),
      });
      const busy = await s.call('message', { message: 'second', conversation_id: ack.conversation_id });
      expect(busy.error).toMatchObject({
        type: 'conversation_busy',
        message: expect.stringMatching(/since \d{4}-/),
      });
      const join = await s.call('join', { conversation_id: ack.conversation_id });
      expect(join).toEqual({
        conversation_id: ack.conversation_id,
        last_seq: expect.any(Number),
        running_run_id: ack.run_id,
        replayed: 0,
        truncated: false,
      });
      // Its run has numbered at least run_started and the first delta.
      expect(join.last_seq).toBeGreaterThanOrEqual(s.named('text')[0].payload.seq);
      gate.release();
      await s.waitFor(isDone);
      const after = await s.call('message', { message: 'third', conversation_id: ack.conversation_id });
      expect(after).toEqual({ conversation_id: ack.conversation_id, run_id: expect.any(String) });
      expect(after.run_id).not.toBe(ack.run_id);
      await s.waitFor((e) => isDone(e) && e.payload.run_id === after.run_id);
      // The sender joined its own running conversation: still each event once.
      expect(texts(s, ack.run_id)).toBe('Slow turn');
      expect(s.named('done')).toHaveLength(2);
      // Numbering goes on across the conversation's runs.
      expectIncreasingSeqs(s.events);
      expect((await stored(ack.conversation_id)).messages.map((m: { role: string }) => m.role)).toEqual([
        'user',
        'assistant',
        'user',
        'assistant',
      ]);
      const quiet = await s.call('join', { conversation_id: ack.conversation_id });
      expect(quiet).not.toHaveProperty('running_run_id');
    });

    it('an instance listens to a conversation’s events only while a socket there follows it', async () => {
      const s = await socketOn(a);
      fake.enqueue({ text: 'One.' }, { text: 'Two.' });
      const first = await s.call('message', { message: 'one' });
      const id = first.conversation_id as string;
      await s.waitFor(isDone);
      const second = await s.call('message', { message: 'two', conversation_id: id });
      await s.waitFor((e) => isDone(e) && e.payload.run_id === second.run_id);
      await s.call('join', { conversation_id: id });
      const channel = `agent-backend:run-events:${id}`;
      const subscribers = async () => Number(((await redis.pubsub('NUMSUB', channel)) as unknown[])[1]);
      expect(await subscribers()).toBe(1);
      s.close();
      await waitUntil(subscribers, (count) => count === 0, WAIT_MS, `no instance to listen to ${channel}`);
    });

    it('cancels mid-stream: the provider call is aborted, the turn ends cancelled and what was said is stored', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'This answer is never finished', gate });
      const s = await socketOn(a);
      const ack = await s.call('message', { message: 'Tell me a long story' });
      await s.waitFor(isText);
      expect(await s.call('cancel', { conversation_id: ack.conversation_id })).toEqual({
        conversation_id: ack.conversation_id,
      });
      const done = await s.waitFor(isDone);
      expect(done.payload).toMatchObject({
        conversation_id: ack.conversation_id,
        run_id: ack.run_id,
        stop_reason: 'cancelled',
      });
      await fake.waitForAborts(1, WAIT_MS);
      gate.release();
      const conversation = await stored(ack.conversation_id);
      expect(conversation.messages).toEqual([
        expect.objectContaining({ role: 'user', content: 'Tell me a long story' }),
        expect.objectContaining({ role: 'assistant', content: [{ type: 'text', text: 'This ' }] }),
      ]);
      expect(s.events.filter((e) => TERMINAL.has(e.name))).toHaveLength(1);
      expect(await finishedRun(a, ack.run_id)).toMatchObject({
        status: 'cancelled',
        stop_reason: 'cancelled',
      });
    });

    it('cancels mid-tool: the tool is stopped, no further model call, and every tool_use keeps its tool_result', async () => {
      const started = new Promise<void>((resolve) => (toolStarted = resolve));
      fake.enqueue(
        { toolUses: [{ id: 'toolu_wait', name: 'wait_for_signal', input: {} }] },
        { text: 'never asked' },
      );
      const s = await socketOn(a);
      const ack = await s.call('message', { message: 'wait', agent_name: 'waiter' });
      await started;
      await s.call('cancel', { conversation_id: ack.conversation_id });
      const done = await s.waitFor(isDone);
      expect(done.payload.stop_reason).toBe('cancelled');
      expect(fake.requests).toHaveLength(1);
      expect(s.named('tool_end')[0].payload).toMatchObject({
        run_id: ack.run_id,
        tool_use_id: 'toolu_wait',
        is_error: true,
      });
      const conversation = await stored(ack.conversation_id);
      assertConsistent(conversation.messages);
      expect(conversation.messages.map((m: { role: string }) => m.role)).toEqual([
        'user',
        'assistant',
        'user',
      ]);
    });

    it('a disconnect mid-turn does not stop the run: it completes, followers get all of it, and it is stored', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'The answer goes on without its sender', gate });
      const sender = await socketOn(a);
      const follower = await socketOn(a);
      const gateway = a.app.get(ChatGateway);
      const ack = await sender.call('message', { message: 'start and leave' });
      // From the conversation's first event: the follower gets the whole run whenever it joined.
      expect(
        await follower.call('join', { conversation_id: ack.conversation_id, after_seq: 0 }),
      ).toMatchObject({
        running_run_id: ack.run_id,
      });
      await sender.waitFor(isText);
      sender.close();
      await serverSees(() => gateway.connectionCount <= 1, 'the server to see the sender leave');
      gate.release();
      const done = await follower.waitFor(isDone);
      expect(done.payload).toMatchObject({ run_id: ack.run_id, stop_reason: 'end_turn' });
      expect(texts(follower)).toBe('The answer goes on without its sender');
      expect(follower.events[0]).toMatchObject({ name: 'run_started', payload: { run_id: ack.run_id } });
      expectIncreasingSeqs(follower.events);
      expect(fake.aborted).toBe(0);
      expect(await finishedRun(a, ack.run_id)).toMatchObject({
        status: 'completed',
        stop_reason: 'end_turn',
        source: 'socket',
      });
      const conversation = await stored(ack.conversation_id);
      expect(conversation.messages).toEqual([
        expect.objectContaining({ role: 'user', content: 'start and leave' }),
        expect.objectContaining({
          role: 'assistant',
          content: [{ type: 'text', text: 'The answer goes on without its sender' }],
        }),
      ]);
    });

    it('with on_disconnect "cancel", a disconnect mid-turn cancels it: followers get exactly one terminal event, and history stays consistent', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Half of an answer', gate });
      const sender = await socketOn(a);
      const follower = await socketOn(a);
      const ack = await sender.call('message', { message: 'start and leave', on_disconnect: 'cancel' });
      await follower.call('join', { conversation_id: ack.conversation_id });
      await sender.waitFor(isText);
      sender.close();
      const done = await follower.waitFor(isDone);
      expect(done.payload).toMatchObject({ run_id: ack.run_id, stop_reason: 'cancelled' });
      await fake.waitForAborts(1, WAIT_MS);
      gate.release();
      await new Promise((r) => setTimeout(r, 200));
      expect(follower.events.filter((e) => TERMINAL.has(e.name))).toHaveLength(1);
      expect(await finishedRun(a, ack.run_id)).toMatchObject({ status: 'cancelled' });
      const conversation = await stored(ack.conversation_id);
      assertConsistent(conversation.messages);
      expect(conversation.messages[0]).toMatchObject({ role: 'user', content: 'start and leave' });
    });

    it('sends followers exactly one error event when the provider fails mid-turn, and the run ends failed', async () => {
      // An existing conversation: one whose first turn fails is removed with that turn.
      const conversation = await a.request('POST', '/v1/conversations', { json: { agent_name: 'support' } });
      fake.enqueue({ text: 'Going to fail now', errorEventAfter: 4 });
      const s = await socketOn(a);
      const ack = await s.call('message', { message: 'fail please', conversation_id: conversation.body.id });
      const error = await s.waitFor((e) => e.name === 'error');
      expect(error.payload).toEqual({
        conversation_id: ack.conversation_id,
        run_id: ack.run_id,
        seq: expect.any(Number),
        type: 'upstream_error',
        message: expect.any(String),
      });
      await new Promise((r) => setTimeout(r, 200));
      expect(s.events.filter((e) => TERMINAL.has(e.name))).toHaveLength(1);
      expect(s.events.at(-1)!.name).toBe('error');
      expectIncreasingSeqs(s.events);
      expect(await finishedRun(a, ack.run_id)).toMatchObject({
        status: 'failed',
        error: { error: { type: 'upstream_error', message: error.payload.message } },
      });
    });
  });

  describe('task events', () => {
    it('subscribe_task delivers rising task_progress and one task_done for the caller’s task', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Report ready.', gate });
      const s = await socketOn(a);
      const created = await a.request('POST', '/v1/tasks', {
        json: { agent_name: 'support', instruction: 'Write the weekly report' },
      });
      expect(created.status).toBe(202);
      const taskId = created.body.task_id;
      expect(await s.call('subscribe_task', { task_id: taskId })).toEqual({ task_id: taskId });
      while (!gate.isWaiting) await new Promise((r) => setTimeout(r, 5));
      gate.release();
      const done = await s.waitFor((e) => e.name === 'task_done');
      expect(done.payload).toMatchObject({ task_id: taskId, status: 'completed', progress: 1 });
      const progress = s.named('task_progress').map((e) => e.payload.progress);
      expect(progress.length).toBeGreaterThan(0);
      expect([...progress].sort((x, y) => x - y)).toEqual(progress);
      expect(s.named('task_done')).toHaveLength(1);
    });

    it('refuses subscribe_task for another tenant’s task or an unknown id with not_found', async () => {
      const other = await startTestApp(env());
      try {
        fake.enqueue({ text: 'Theirs.' });
        const theirs = await other.request('POST', '/v1/tasks', {
          json: { agent_name: 'support', instruction: 'x' },
        });
        const s = await socketOn(a);
        expect((await s.call('subscribe_task', { task_id: theirs.body.task_id })).error.type).toBe(
          'not_found',
        );
        expect((await s.call('subscribe_task', { task_id: randomUUID() })).error.type).toBe('not_found');
        expect((await s.call('subscribe_task', { task_id: 'nope' })).error.type).toBe('validation_error');
      } finally {
        await other.close();
      }
    });
  });

  describe('two instances', () => {
    it('a client on instance B that joins sees the turn running on instance A, and the lock holds across them', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Streamed from A to B', gate });
      const onA = await socketOn(a);
      const onB = await socketOn(b);
      const ack = await onA.call('message', { message: 'run on A' });
      expect(await onB.call('join', { conversation_id: ack.conversation_id })).toMatchObject({
        conversation_id: ack.conversation_id,
        running_run_id: ack.run_id,
        replayed: 0,
      });
      const busy = await onB.call('message', { message: 'also on B', conversation_id: ack.conversation_id });
      expect(busy.error.type).toBe('conversation_busy');
      const restOnB = await b.request('POST', '/v1/chat', {
        json: { message: 'REST on B', conversation_id: ack.conversation_id },
        key: a.userKey,
      });
      expect(restOnB.status).toBe(409);
      gate.release();
      const done = await onB.waitFor(isDone);
      expect(done.payload).toMatchObject({ run_id: ack.run_id, stop_reason: 'end_turn' });
      // B joined while A's stream was held after its first delta: everything after that reaches B.
      const seenOnB = texts(onB);
      expect(seenOnB).toMatch(/from A to B$/);
      expect('Streamed from A to B'.endsWith(seenOnB)).toBe(true);
      // What B got is exactly A's events from where it joined: same payloads, same numbers.
      await onA.waitFor(isDone);
      const fromA = runEvents(onA);
      expect(runEvents(onB)).toEqual(fromA.slice(fromA.length - runEvents(onB).length));
    });

    it('a client on instance B that joins with after_seq gets the run on A from there: replayed, then live, no gap and no duplicate', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Resumed on B without a gap', gate });
      const onA = await socketOn(a);
      const ack = await onA.call('message', { message: 'run on A' });
      await onA.waitFor(isText);
      const onB = await socketOn(b);
      const joined = await onB.call('join', { conversation_id: ack.conversation_id, after_seq: 0 });
      expect(joined).toEqual({
        conversation_id: ack.conversation_id,
        last_seq: expect.any(Number),
        running_run_id: ack.run_id,
        replayed: expect.any(Number),
        truncated: false,
      });
      // run_started and the first delta had gone out before B joined: at least run_started is replayed (the first
      // delta may still be in A's few-millisecond append batch, and then reaches B live; the checks below see it).
      expect(joined.replayed).toBeGreaterThanOrEqual(1);
      gate.release();
      await onB.waitFor(isDone);
      await onA.waitFor(isDone);
      expect(runEvents(onB)).toEqual(runEvents(onA));
      expect(texts(onB)).toBe('Resumed on B without a gap');
      expectIncreasingSeqs(onB.events);
    });

    it("delivers a run's events to followers on both instances, each event once and in order, whichever instance runs it", async () => {
      const sender = await socketOn(a);
      const sameInstance = await socketOn(a);
      const elsewhere = await socketOn(b);
      fake.enqueue({ text: 'Before anyone joined' });
      const first = await sender.call('message', { message: 'here' });
      const id = first.conversation_id as string;
      await sender.waitFor(isDone);
      await sameInstance.call('join', { conversation_id: id });
      await elsewhere.call('join', { conversation_id: id });

      fake.enqueue(
        {
          text: 'Looking. ',
          toolUses: [{ id: 'toolu_both', name: 'lookup_order', input: { order_number: '1001' } }],
        },
        { text: 'Run on A, seen everywhere' },
      );
      const onA = await sender.call('message', { message: 'again', conversation_id: id });
      for (const s of [sender, sameInstance, elsewhere]) {
        await s.waitFor((e) => isDone(e) && e.payload.run_id === onA.run_id);
      }
      // A run on instance B, over REST: the followers on A get it through Redis.
      fake.enqueue({ text: 'Run on B, seen everywhere' });
      const onB = await b.request('POST', '/v1/chat', {
        json: { message: 'on B', conversation_id: id },
        key: a.userKey,
      });
      expect(onB.status).toBe(200);
      for (const s of [sender, sameInstance, elsewhere]) {
        await s.waitFor((e) => isDone(e) && e.payload.run_id === onB.body.run_id);
      }
      // Time for a late duplicate (a local copy and another through Redis) to show up.
      await new Promise((resolve) => setTimeout(resolve, 500));

      const both = [onA.run_id, onB.body.run_id];
      const reference = runEvents(sender, both);
      // A's run, then B's, each from run_started to done (text deltas left out here).
      expect(
        reference
          .filter((e) => e.name !== 'text')
          .map((e) => `${e.payload.run_id === onA.run_id ? 'A' : 'B'}:${e.name}`),
      ).toEqual(['A:run_started', 'A:tool_start', 'A:tool_end', 'A:done', 'B:run_started', 'B:done']);
      expect(runEvents(sameInstance, both)).toEqual(reference);
      expect(runEvents(elsewhere, both)).toEqual(reference);
      for (const s of [sender, sameInstance, elsewhere]) {
        expectIncreasingSeqs(runEvents(s));
        expect(texts(s, onA.run_id)).toBe('Looking. Run on A, seen everywhere');
        expect(texts(s, onB.body.run_id)).toBe('Run on B, seen everywhere');
      }
      expect(
        reference.find((e) => e.name === 'run_started' && e.payload.run_id === onB.body.run_id),
      ).toMatchObject({ payload: { source: 'rest' } });
      // The sender also had its own first run; the others joined after it.
      expect(sender.named('done')).toHaveLength(3);
      expect(sameInstance.named('done')).toHaveLength(2);
      expect(elsewhere.named('done')).toHaveLength(2);
    });

    it('a follower on the instance that runs the turn gets its events from the run itself, without waiting for Redis', async () => {
      const id = (await a.request('POST', '/v1/conversations', { json: { agent_name: 'support' } })).body.id;
      // The event log cannot take this conversation's events: its stream key holds something else, so Redis
      // refuses every append (and publishes nothing). Followers elsewhere then miss them; local ones must not.
      const streamKey = `agent-backend:run-events:{${id}}`;
      await redis.set(streamKey, 'not a stream', 'EX', 600);
      try {
        const sender = await socketOn(a);
        const sameInstance = await socketOn(a);
        const elsewhere = await socketOn(b);
        await sameInstance.call('join', { conversation_id: id });
        await elsewhere.call('join', { conversation_id: id });
        const gate = fake.gate();
        fake.enqueue({ text: 'Delivered on this instance only', gate });
        const ack = await sender.call('message', { message: 'local', conversation_id: id });
        // Live: the first delta reaches both while the provider is still answering.
        await sender.waitFor(isText);
        await sameInstance.waitFor(isText);
        expect(gate.isWaiting).toBe(true);
        gate.release();
        await sender.waitFor(isDone);
        await sameInstance.waitFor(isDone);
        expect(runEvents(sameInstance)).toEqual(runEvents(sender));
        expect(runEvents(sender)[0]).toMatchObject({ name: 'run_started', payload: { run_id: ack.run_id } });
        expect(texts(sameInstance)).toBe('Delivered on this instance only');
        expectIncreasingSeqs(sameInstance.events);
        await new Promise((resolve) => setTimeout(resolve, 500));
        // The control: nothing went through Redis.
        expect(elsewhere.events).toEqual([]);
        expect(await redis.type(streamKey)).toBe('string');
      } finally {
        await redis.del(streamKey);
      }
    });

    it('a socket on instance B that joins while a REST turn runs on instance A gets everything after its join', async () => {
      fake.enqueue({ text: 'Opening words' });
      const id = (await a.request('POST', '/v1/chat', { json: { message: 'create it' } })).body
        .conversation_id;
      const gate = fake.gate();
      fake.enqueue({ text: 'Held, then released to the follower', gate });
      const rest = a.request('POST', '/v1/chat', { json: { message: 'long answer', conversation_id: id } });
      await gate.reached;
      const onB = await socketOn(b);
      const joined = await onB.call('join', { conversation_id: id });
      expect(joined).toMatchObject({ running_run_id: expect.any(String), truncated: false });
      gate.release();
      const answer = await rest;
      expect(answer.status).toBe(200);
      expect(answer.body.run_id).toBe(joined.running_run_id);
      const done = await onB.waitFor(isDone);
      expect(done.payload).toMatchObject({ run_id: answer.body.run_id, stop_reason: 'end_turn' });
      const seen = texts(onB);
      // The first delta went out before anyone watched; every one after the join arrived.
      expect(seen.length).toBeGreaterThan(0);
      expect('Held, then released to the follower'.endsWith(seen)).toBe(true);
      expect(seen).toMatch(/to the follower$/);
      expect(onB.events.every((e) => e.payload.seq > joined.last_seq)).toBe(true);
      expectIncreasingSeqs(onB.events);
    });

    it('a cancel sent to instance B stops the turn running on instance A', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Cancelled from afar', gate });
      const onA = await socketOn(a);
      const onB = await socketOn(b);
      const ack = await onA.call('message', { message: 'run on A' });
      await onA.waitFor(isText);
      await onB.call('cancel', { conversation_id: ack.conversation_id });
      const done = await onA.waitFor(isDone);
      expect(done.payload).toMatchObject({ run_id: ack.run_id, stop_reason: 'cancelled' });
      await fake.waitForAborts(1, WAIT_MS);
      gate.release();
    });
  });

  describe('SSE POST /v1/chat/stream', () => {
    const open = (json: unknown, signal?: AbortSignal) =>
      fetch(`${a.url}/v1/chat/stream`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${a.userKey}` },
        body: JSON.stringify(json),
        signal,
      });

    interface Frame {
      id?: string;
      event?: string;
      data?: any;
      comment?: string;
    }

    /** Reads SSE frames as they arrive. */
    async function* frames(response: Response): AsyncGenerator<Frame> {
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      while (true) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (frame.startsWith(':')) {
            yield { comment: frame.slice(1).trim() };
            continue;
          }
          const id = /^id: (.*)$/m.exec(frame)?.[1];
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          yield { id, event, data: data ? JSON.parse(data) : undefined };
        }
      }
    }

    it('streams events with headers that stop proxy buffering; the first delta arrives before the provider finishes', async () => {
      const gate = fake.gate();
      fake.enqueue(
        {
          text: 'Checking.',
          toolUses: [{ id: 'toolu_sse', name: 'calculator', input: { expression: '2*21' } }],
        },
        { text: 'The answer is 42', gate },
      );
      const response = await open({ message: 'What is 2*21?' });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(response.headers.get('cache-control')).toContain('no-cache');
      expect(response.headers.get('x-accel-buffering')).toBe('no');
      expect(response.headers.get('x-request-id')).toEqual(expect.any(String));
      // Headers the app's hooks set before the stream took over the response are kept.
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(
        response.headers.get('x-ratelimit-limit') ?? response.headers.get('x-ratelimit-remaining'),
      ).not.toBeNull();
      const seen: Frame[] = [];
      for await (const frame of frames(response)) {
        if (frame.comment !== undefined) continue;
        seen.push(frame);
        if (frame.event === 'text' && frame.data.content === 'The ') {
          expect(gate.isWaiting).toBe(true);
          gate.release();
        }
      }
      expect(gate.released).toBe(true);
      const names = seen.map((f) => f.event);
      expect(names[0]).toBe('run_started');
      expect(names.indexOf('tool_start')).toBeLessThan(names.indexOf('tool_end'));
      expect(names[names.length - 1]).toBe('done');
      expect(names.filter((n) => n === 'done' || n === 'error')).toHaveLength(1);
      const { conversation_id, run_id } = seen[0].data;
      expect(seen[0].data).toEqual({ conversation_id, run_id, seq: expect.any(Number), source: 'sse' });
      expect(seen.every((f) => f.data.conversation_id === conversation_id && f.data.run_id === run_id)).toBe(
        true,
      );
      // Every frame's id is its event's number in the conversation.
      expect(seen.map((f) => f.id)).toEqual(seen.map((f) => String(f.data.seq)));
      expectIncreasingSeqs(seen.map((f) => ({ payload: f.data })));
      expect(seen.at(-1)!.data).toMatchObject({ stop_reason: 'end_turn', message_id: expect.any(String) });
    });

    it('sends a heartbeat comment while the turn is quiet', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Slow to finish', gate });
      const response = await open({ message: 'be slow' });
      for await (const frame of frames(response)) {
        if (frame.comment === 'heartbeat') gate.release();
        if (frame.event === 'done') break;
      }
      expect(gate.released).toBe(true);
    });

    it('answers errors found before the turn starts with the JSON envelope', async () => {
      const missing = await open({ message: 'hi', conversation_id: randomUUID() });
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as any).error.type).toBe('not_found');
      const invalid = await open({ message: '' });
      expect(invalid.status).toBe(400);
      const badOption = await open({ message: 'hi', on_disconnect: 'pause' });
      expect(badOption.status).toBe(400);
      expect(((await badOption.json()) as any).error.type).toBe('validation_error');
    });

    it('answers 409 conversation_busy with the JSON envelope while the conversation has a run going', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Holding the conversation', gate });
      const s = await socketOn(a);
      const ack = await s.call('message', { message: 'hold it' });
      await s.waitFor(isText);
      const busy = await open({ message: 'me too', conversation_id: ack.conversation_id });
      expect(busy.status).toBe(409);
      expect(((await busy.json()) as any).error.type).toBe('conversation_busy');
      gate.release();
      await s.waitFor(isDone);
    });

    it('ends with an error event when the provider fails mid-stream', async () => {
      fake.enqueue({ text: 'Broken stream ahead', cutAfterEvents: 4 });
      const response = await open({ message: 'break' });
      const seen: Frame[] = [];
      for await (const frame of frames(response)) if (frame.event) seen.push(frame);
      expect(seen.at(-1)).toMatchObject({
        event: 'error',
        data: {
          conversation_id: seen[0].data.conversation_id,
          run_id: seen[0].data.run_id,
          type: 'upstream_error',
        },
      });
      expect(seen.at(-1)!.id).toBe(String(seen.at(-1)!.data.seq));
      expect(seen.filter((f) => f.event === 'error' || f.event === 'done')).toHaveLength(1);
    });

    it('a client that goes away does not stop the run: it completes, is stored, and GET …/events with Last-Event-ID resumes it', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Read later from where it stopped', gate });
      const controller = new AbortController();
      const response = await open({ message: 'leaving soon' }, controller.signal);
      const received: Frame[] = [];
      try {
        for await (const frame of frames(response)) {
          if (!frame.event) continue;
          received.push(frame);
          if (frame.event === 'text') controller.abort();
        }
      } catch {
        // the abort ends the read
      }
      const { conversation_id: conversationId, run_id: runId } = received[0].data;
      const lastId = received.at(-1)!.id!;
      expect(received.map((f) => f.event)).toEqual(['run_started', 'text']);
      const streams = a.app.get(SseStreams);
      await serverSees(() => streams.openCount === 0, 'the server to see the client leave');
      gate.release();
      expect(await finishedRun(a, runId)).toMatchObject({
        status: 'completed',
        stop_reason: 'end_turn',
        source: 'sse',
      });
      expect(fake.aborted).toBe(0);
      expect((await stored(conversationId)).messages).toEqual([
        expect.objectContaining({ role: 'user', content: 'leaving soon' }),
        expect.objectContaining({
          role: 'assistant',
          content: [{ type: 'text', text: 'Read later from where it stopped' }],
        }),
      ]);

      const resume = new AbortController();
      const resumed = await fetch(`${a.url}/v1/conversations/${conversationId}/events`, {
        headers: { authorization: `Bearer ${a.userKey}`, 'last-event-id': lastId },
        signal: resume.signal,
      });
      expect(resumed.status).toBe(200);
      const rest: Frame[] = [];
      try {
        for await (const frame of frames(resumed)) {
          if (!frame.event) continue;
          rest.push(frame);
          if (frame.event === 'done') resume.abort();
        }
      } catch {
        // the abort ends the read
      }
      // Exactly what the client missed: from the event after its last id to the run's end.
      expect(Number(rest[0].id)).toBeGreaterThan(Number(lastId));
      expect(rest.every((f) => f.data.run_id === runId && f.id === String(f.data.seq))).toBe(true);
      expectIncreasingSeqs(rest.map((f) => ({ payload: f.data })));
      expect(
        [...received, ...rest]
          .filter((f) => f.event === 'text')
          .map((f) => f.data.content)
          .join(''),
      ).toBe('Read later from where it stopped');
      expect(rest.at(-1)!.data).toMatchObject({ stop_reason: 'end_turn' });
    });

    it('with on_disconnect "cancel", a client that goes away cancels the turn and the history stays consistent', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Nobody will read this', gate });
      const controller = new AbortController();
      const response = await open({ message: 'leaving soon', on_disconnect: 'cancel' }, controller.signal);
      let conversationId = '';
      let runId = '';
      try {
        for await (const frame of frames(response)) {
          if (frame.event === 'run_started') runId = frame.data.run_id;
          if (frame.event === 'text') {
            conversationId = frame.data.conversation_id;
            controller.abort();
          }
        }
      } catch {
        // the abort ends the read
      }
      await fake.waitForAborts(1, WAIT_MS);
      gate.release();
      expect(await finishedRun(a, runId)).toMatchObject({ status: 'cancelled', stop_reason: 'cancelled' });
      const conversation = await stored(conversationId);
      expect(conversation.messages).toEqual([
        expect.objectContaining({ role: 'user', content: 'leaving soon' }),
        expect.objectContaining({ role: 'assistant', content: [{ type: 'text', text: 'Nobody ' }] }),
      ]);
    });
  });
});
