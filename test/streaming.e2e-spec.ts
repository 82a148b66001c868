// Real-time turns: the Socket.IO gateway and SSE, the per-conversation lock, cancellation and two instances.
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { AgentRegistry } from '@lib/agents';
import { ToolRegistry } from '@lib/tools';
import { FakeAnthropic } from './support/fake-anthropic';
import { startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';
import { TEST_REDIS_URL } from './support/test-env';
import { connectError, connectSocket, TestSocket } from './support/socket';

const TERMINAL = new Set(['done', 'error']);

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
  let db: DataSource;
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
  const socketOn = async (app: TestApp, key = a.userKey) => {
    const s = await connectSocket(app.url, key);
    sockets.push(s);
    return s;
  };
  const stored = async (conversationId: string) =>
    (await a.request('GET', `/v1/conversations/${conversationId}`)).body;
  /** The channels of every Socket.IO room message published to Redis from now on, until `stop()`. */
  const recordRoomPublishes = async () => {
    const watcher = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    const published: string[] = [];
    watcher.on('pmessage', (_pattern: string, channel: string) => published.push(channel));
    await watcher.psubscribe('socket.io#/chat#*');
    return { published, stop: () => watcher.disconnect() };
  };

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    a = await startTestApp(env());
    // A second instance on another port, same PostgreSQL and Redis, same tenant.
    b = await startTestApp({ ...env(), DEFAULT_TENANT: a.tenantId });
    for (const app of [a, b]) {
      app.app.get(ToolRegistry).register(waitForSignal);
      app.app.get(AgentRegistry).register({
        name: 'waiter',
        description: 'Test agent with a tool that waits.',
        systemPrompt: 'Test.',
        model: '',
        temperature: 0,
        maxIterations: 3,
        maxTokens: 256,
        tools: ['wait_for_signal'],
      });
    }
    db = await openTestDataSource();
  });

  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
    fake.reset();
  });

  afterAll(async () => {
    await db.destroy();
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

    it('streams deltas as the provider produces them: the first arrives before the provider has finished', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'One two three four five', gate });
      const s = await socketOn(a);
      const ack = await s.call('message', { message: 'Count to five' });
      expect(ack).toEqual({ conversation_id: expect.any(String) });
      const first = await s.waitFor((e) => e.name === 'text');
      expect(gate.isWaiting).toBe(true);
      expect(s.named('done')).toHaveLength(0);
      expect(first.payload).toEqual({ conversation_id: ack.conversation_id, content: 'One ' });
      gate.release();
      const done = await s.waitFor((e) => e.name === 'done');
      expect(
        s
          .named('text')
          .map((e) => e.payload.content)
          .join(''),
      ).toBe('One two three four five');
      expect(done.payload).toMatchObject({
        conversation_id: ack.conversation_id,
        message_id: expect.any(String),
        stop_reason: 'end_turn',
        input_tokens: expect.any(Number),
        output_tokens: expect.any(Number),
        tokens_used: expect.any(Number),
        cost_usd: expect.any(Number),
        latency_ms: expect.any(Number),
      });
      const names = s.events.map((e) => e.name);
      expect(names.indexOf('done')).toBe(names.length - 1);
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
      await s.waitFor((e) => e.name === 'done');
      const names = s.events.map((e) => e.name);
      expect(names.indexOf('tool_start')).toBeLessThan(names.indexOf('tool_end'));
      expect(names.lastIndexOf('text')).toBeGreaterThan(names.indexOf('tool_end'));
      expect(s.named('tool_start')[0].payload).toEqual({
        conversation_id: ack.conversation_id,
        tool_name: 'lookup_order',
        tool_use_id: 'toolu_s1',
        arguments: { order_number: '1001' },
      });
      expect(s.named('tool_end')[0].payload).toMatchObject({
        conversation_id: ack.conversation_id,
        tool_name: 'lookup_order',
        tool_use_id: 'toolu_s1',
        is_error: false,
        duration_ms: expect.any(Number),
        result_summary: expect.stringContaining('1001'),
      });
    });

    it.each([
      ['a missing message', {}],
      ['a message over 10,000 characters', { message: 'x'.repeat(10_001) }],
      ['a conversation_id that is not a UUID', { message: 'hi', conversation_id: 'nope' }],
      ['an unknown agent', { message: 'hi', agent_name: 'nobody' }],
      ['a payload that is not an object', 'just a string'],
    ])(
      'refuses %s with validation_error through the acknowledgement and stays usable',
      async (_case, payload) => {
        const s = await socketOn(a);
        const ack = await s.call('message', payload);
        expect(ack.error).toMatchObject({ type: 'validation_error', message: expect.any(String) });
        fake.enqueue({ text: 'Still here.' });
        const ok = await s.call('message', { message: 'hello again' });
        expect(ok.conversation_id).toEqual(expect.any(String));
        await s.waitFor((e) => e.name === 'done');
        expect(s.socket.connected).toBe(true);
      },
    );

    it('answers a refused event without acknowledgement as an error event', async () => {
      const s = await socketOn(a);
      s.socket.emit('message', { message: '' });
      const error = await s.waitFor((e) => e.name === 'error');
      expect(error.payload).toMatchObject({ type: 'validation_error' });
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

    it('answers 409 conversation_busy on REST and on the socket while a turn runs, saying since when', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Slow turn', gate }, { text: 'Next turn' });
      const s = await socketOn(a);
      const ack = await s.call('message', { message: 'first' });
      await s.waitFor((e) => e.name === 'text');
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
      expect(join.running_since).toEqual(expect.any(String));
      gate.release();
      await s.waitFor((e) => e.name === 'done');
      const after = await s.call('message', { message: 'third', conversation_id: ack.conversation_id });
      expect(after.conversation_id).toBe(ack.conversation_id);
      await s.waitFor((e) => e.name === 'done' && s.named('done').length === 2);
      expect((await stored(ack.conversation_id)).messages.map((m: { role: string }) => m.role)).toEqual([
        'user',
        'assistant',
        'user',
        'assistant',
      ]);
    });

    it('cancels mid-stream: the provider call is aborted, the turn ends cancelled and what was said is stored', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'This answer is never finished', gate });
      const s = await socketOn(a);
      const ack = await s.call('message', { message: 'Tell me a long story' });
      await s.waitFor((e) => e.name === 'text');
      expect(await s.call('cancel', { conversation_id: ack.conversation_id })).toEqual({
        conversation_id: ack.conversation_id,
      });
      const done = await s.waitFor((e) => e.name === 'done');
      expect(done.payload.stop_reason).toBe('cancelled');
      await fake.waitForAborts(1);
      gate.release();
      const conversation = await stored(ack.conversation_id);
      expect(conversation.messages).toEqual([
        expect.objectContaining({ role: 'user', content: 'Tell me a long story' }),
        expect.objectContaining({ role: 'assistant', content: [{ type: 'text', text: 'This ' }] }),
      ]);
      expect(s.events.filter((e) => TERMINAL.has(e.name))).toHaveLength(1);
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
      const done = await s.waitFor((e) => e.name === 'done');
      expect(done.payload.stop_reason).toBe('cancelled');
      expect(fake.requests).toHaveLength(1);
      expect(s.named('tool_end')[0].payload).toMatchObject({ tool_use_id: 'toolu_wait', is_error: true });
      const conversation = await stored(ack.conversation_id);
      assertConsistent(conversation.messages);
      expect(conversation.messages.map((m: { role: string }) => m.role)).toEqual([
        'user',
        'assistant',
        'user',
      ]);
    });

    it('a disconnect mid-turn cancels it, followers get exactly one terminal event, and history stays consistent', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Half of an answer', gate });
      const sender = await socketOn(a);
      const follower = await socketOn(a);
      const ack = await sender.call('message', { message: 'start and leave' });
      await follower.call('join', { conversation_id: ack.conversation_id });
      await sender.waitFor((e) => e.name === 'text');
      sender.close();
      const done = await follower.waitFor((e) => e.name === 'done');
      expect(done.payload.stop_reason).toBe('cancelled');
      gate.release();
      await new Promise((r) => setTimeout(r, 100));
      expect(follower.events.filter((e) => TERMINAL.has(e.name))).toHaveLength(1);
      const conversation = await stored(ack.conversation_id);
      assertConsistent(conversation.messages);
      expect(conversation.messages[0]).toMatchObject({ role: 'user', content: 'start and leave' });
    });

    it('sends followers exactly one error event when the provider fails mid-turn', async () => {
      fake.enqueue({ text: 'Going to fail now', errorEventAfter: 4 });
      const s = await socketOn(a);
      const ack = await s.call('message', { message: 'fail please' });
      const error = await s.waitFor((e) => e.name === 'error');
      expect(error.payload).toEqual({
        conversation_id: ack.conversation_id,
        type: 'upstream_error',
        message: expect.any(String),
      });
      await new Promise((r) => setTimeout(r, 100));
      expect(s.events.filter((e) => TERMINAL.has(e.name))).toHaveLength(1);
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
      const done = await s.waitFor((e) => e.name === 'task_done', 10_000);
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
        running_since: expect.any(String),
      });
      const busy = await onB.call('message', { message: 'also on B', conversation_id: ack.conversation_id });
      expect(busy.error.type).toBe('conversation_busy');
      const restOnB = await b.request('POST', '/v1/chat', {
        json: { message: 'REST on B', conversation_id: ack.conversation_id },
        key: a.userKey,
      });
      expect(restOnB.status).toBe(409);
      gate.release();
      const done = await onB.waitFor((e) => e.name === 'done');
      expect(done.payload.stop_reason).toBe('end_turn');
      // B joined while A's stream was held after its first delta: everything after that reaches B.
      const seenOnB = onB
        .named('text')
        .map((e) => e.payload.content)
        .join('');
      expect(seenOnB).toMatch(/from A to B$/);
      expect('Streamed from A to B'.endsWith(seenOnB)).toBe(true);
    });

    it('a REST turn nobody follows publishes nothing to Redis; once a socket joined, the next turn is published', async () => {
      const { published, stop } = await recordRoomPublishes();
      try {
        fake.enqueue({ text: 'Quiet first answer' });
        const first = await a.request('POST', '/v1/chat', { json: { message: 'unwatched' } });
        expect(first.status).toBe(200);
        const id = first.body.conversation_id as string;
        fake.enqueue({ text: 'Still quiet' });
        expect(
          (await a.request('POST', '/v1/chat', { json: { message: 'again', conversation_id: id } })).status,
        ).toBe(200);
        // A follower on the other instance: the next REST turn on A reaches it through Redis.
        const onB = await socketOn(b);
        await onB.call('join', { conversation_id: id });
        fake.enqueue({ text: 'Now watched' });
        expect(
          (await a.request('POST', '/v1/chat', { json: { message: 'watched', conversation_id: id } })).status,
        ).toBe(200);
        await onB.waitFor((e) => e.name === 'done');
        expect(
          onB
            .named('text')
            .map((e) => e.payload.content)
            .join(''),
        ).toBe('Now watched');
        const ofConversation = published.filter((channel) => channel.includes(id));
        // Only the third turn's events: its text deltas and done.
        expect(ofConversation.length).toBeGreaterThanOrEqual(2);
        expect(ofConversation.length).toBe(
          onB.events.filter((e) => e.payload?.conversation_id === id).length,
        );
        // After it left, turns are quiet again.
        await onB.call('leave', { conversation_id: id });
        const before = published.length;
        fake.enqueue({ text: 'Quiet again' });
        expect(
          (await a.request('POST', '/v1/chat', { json: { message: 'left', conversation_id: id } })).status,
        ).toBe(200);
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(published.slice(before).filter((channel) => channel.includes(id))).toEqual([]);
      } finally {
        stop();
      }
    });

    it('serves followers on the same instance without Redis, and through Redis once one is elsewhere, each event once', async () => {
      const { published, stop } = await recordRoomPublishes();
      try {
        const sender = await socketOn(a);
        const sameInstance = await socketOn(a);
        fake.enqueue({ text: 'Local only' });
        const ack = await sender.call('message', { message: 'here' });
        const id = ack.conversation_id as string;
        await sender.waitFor((e) => e.name === 'done');
        expect(await sameInstance.call('join', { conversation_id: id })).toMatchObject({
          conversation_id: id,
        });
        fake.enqueue({ text: 'Still local' });
        await sender.call('message', { message: 'again', conversation_id: id });
        await sameInstance.waitFor((e) => e.name === 'done');
        expect(
          sameInstance
            .named('text')
            .map((e) => e.payload.content)
            .join(''),
        ).toBe('Still local');
        expect(published.filter((channel) => channel.includes(id))).toEqual([]);

        const elsewhere = await socketOn(b);
        await elsewhere.call('join', { conversation_id: id });
        fake.enqueue({ text: 'Now through Redis' });
        await sender.call('message', { message: 'third', conversation_id: id });
        await elsewhere.waitFor((e) => e.name === 'done');
        await sameInstance.waitFor(() => sameInstance.named('done').length === 2);
        await sender.waitFor(() => sender.named('done').length === 3);
        const texts = (s: TestSocket) =>
          s
            .named('text')
            .map((e) => e.payload.content)
            .join('');
        // Every follower saw each event once: no copy by the local emit and another through Redis.
        expect(texts(sender)).toBe('Local onlyStill localNow through Redis');
        expect(texts(sameInstance)).toBe('Still localNow through Redis');
        expect(texts(elsewhere)).toBe('Now through Redis');
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(sender.named('done')).toHaveLength(3);
        expect(sameInstance.named('done')).toHaveLength(2);
        expect(elsewhere.named('done')).toHaveLength(1);
        expect(published.filter((channel) => channel.includes(id)).length).toBeGreaterThan(0);
      } finally {
        stop();
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
      expect(await onB.call('join', { conversation_id: id })).toMatchObject({
        running_since: expect.any(String),
      });
      gate.release();
      expect((await rest).status).toBe(200);
      const done = await onB.waitFor((e) => e.name === 'done');
      expect(done.payload.stop_reason).toBe('end_turn');
      const seen = onB
        .named('text')
        .map((e) => e.payload.content)
        .join('');
      // The first delta went out before anyone watched; every one after the join arrived.
      expect(seen.length).toBeGreaterThan(0);
      expect('Held, then released to the follower'.endsWith(seen)).toBe(true);
      expect(seen).toMatch(/to the follower$/);
    });

    it('a cancel sent to instance B stops the turn running on instance A', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Cancelled from afar', gate });
      const onA = await socketOn(a);
      const onB = await socketOn(b);
      const ack = await onA.call('message', { message: 'run on A' });
      await onA.waitFor((e) => e.name === 'text');
      await onB.call('cancel', { conversation_id: ack.conversation_id });
      const done = await onA.waitFor((e) => e.name === 'done');
      expect(done.payload.stop_reason).toBe('cancelled');
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

    /** Reads SSE frames as they arrive. */
    async function* frames(
      response: Response,
    ): AsyncGenerator<{ event?: string; data?: any; comment?: string }> {
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
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          yield { event, data: data ? JSON.parse(data) : undefined };
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
      const seen: Array<{ event?: string; data?: any }> = [];
      for await (const frame of frames(response)) {
        if (frame.comment !== undefined) continue;
        seen.push(frame);
        if (frame.event === 'text' && frame.data.content === 'The ') {
          expect(gate.isWaiting).toBe(true);
          gate.release();
        }
      }
      const names = seen.map((f) => f.event);
      expect(names.indexOf('tool_start')).toBeLessThan(names.indexOf('tool_end'));
      expect(names[names.length - 1]).toBe('done');
      expect(names.filter((n) => n === 'done' || n === 'error')).toHaveLength(1);
      expect(seen.every((f) => typeof f.data.conversation_id === 'string')).toBe(true);
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
    });

    it('ends with an error event when the provider fails mid-stream', async () => {
      fake.enqueue({ text: 'Broken stream ahead', cutAfterEvents: 4 });
      const response = await open({ message: 'break' });
      const seen = [];
      for await (const frame of frames(response)) if (frame.event) seen.push(frame);
      expect(seen.at(-1)).toMatchObject({ event: 'error', data: { type: 'upstream_error' } });
    });

    it('a client that goes away cancels the turn and the history stays consistent', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Nobody will read this', gate });
      const controller = new AbortController();
      const response = await open({ message: 'leaving soon' }, controller.signal);
      let conversationId = '';
      try {
        for await (const frame of frames(response)) {
          if (frame.event === 'text') {
            conversationId = frame.data.conversation_id;
            controller.abort();
          }
        }
      } catch {
        // the abort ends the read
      }
      await fake.waitForAborts(1);
      gate.release();
      let conversation: any;
      for (let i = 0; i < 50; i++) {
        const res = await a.request('GET', `/v1/conversations/${conversationId}`);
        // The conversation exists from the start; the cancelled turn is stored when it ends.
        if (res.status === 200 && res.body.message_count > 0) {
          conversation = res.body;
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(conversation.messages).toEqual([
        expect.objectContaining({ role: 'user', content: 'leaving soon' }),
        expect.objectContaining({ role: 'assistant', content: [{ type: 'text', text: 'Nobody ' }] }),
      ]);
    });
  });
});
