// Log lines with their context: every line of an HTTP request, a Socket.IO event and a task's job carries the
// request id, the tenant, the conversation (and task) and, inside a trace, the trace id. Read from the app's
// JSON lines through a stream.
import { Writable } from 'node:stream';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { FakeAnthropic } from './support/fake-anthropic';
import { startTestApp, TestApp } from './support/app';
import { connectSocket } from './support/socket';
import { removeQueueKeys, testQueuePrefix, waitForStatus, waitUntil } from './support/tasks';

jest.setTimeout(30_000);

type Line = Record<string, any>;

describe('log lines carry their context', () => {
  const prefix = testQueuePrefix('logs');
  const lines: Line[] = [];
  const raw = new Map<number, string>();
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const text of String(chunk).split('\n').filter(Boolean))
        raw.set(lines.push(JSON.parse(text)) - 1, text);
      done();
    },
  });
  const provider = new BasicTracerProvider();
  const contextManager = new AsyncLocalStorageContextManager().enable();
  let fake: FakeAnthropic;
  let t: TestApp;

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(contextManager);
    fake = await FakeAnthropic.start();
    t = await startTestApp(
      {
        ANTHROPIC_API_KEY: 'sk-ant-test',
        ANTHROPIC_BASE_URL: fake.url,
        LLM_MAX_RETRIES: '0',
        QUEUE_PREFIX: prefix,
        RUN_WORKERS_IN_API: 'true',
        LOG_LEVEL: 'info',
      },
      { logDestination: destination },
    );
  });

  afterEach(() => fake.reset());

  afterAll(async () => {
    await t?.close();
    await fake?.stop();
    await removeQueueKeys(prefix);
    contextManager.disable();
    trace.disable();
    context.disable();
  });

  const linesWith = (key: string, value: string) => lines.filter((line) => line[key] === value);
  /** No context key appears twice on a line (JSON.parse would keep the last silently: count in the raw text). */
  const keysOnce = (line: Line) => {
    const text = raw.get(lines.indexOf(line))!;
    for (const key of ['request_id', 'tenant_id', 'conversation_id', 'task_id', 'trace_id', 'span_id']) {
      expect(text.split(`"${key}":`).length - 1).toBeLessThanOrEqual(1);
    }
  };

  it('an HTTP request: request id, tenant and conversation on every line, the completion line included', async () => {
    fake.enqueue({ status: 500 });
    const res = await t.request('POST', '/v1/chat', { json: { message: 'Hello?' } });
    expect(res.status).toBe(502);
    const requestId = res.headers.get('x-request-id')!;
    const conversationId = await waitUntil(
      async () => linesWith('request_id', requestId).find((l) => l.conversation_id)?.conversation_id,
      (id) => Boolean(id),
      2_000,
      'a line naming the conversation',
    );
    const ofRequest = await waitUntil(
      async () => linesWith('request_id', requestId),
      (found) => found.some((l) => l.msg === 'request errored' || l.msg === 'request completed'),
      2_000,
      'the completion line',
    );
    // The turn's warning, the error filter's warning and pino-http's completion line.
    expect(ofRequest.length).toBeGreaterThanOrEqual(3);
    for (const line of ofRequest) {
      expect(line).toMatchObject({
        request_id: requestId,
        tenant_id: t.tenantId,
        conversation_id: conversationId,
      });
      keysOnce(line);
    }
    const turnLine = ofRequest.find((l) => String(l.msg).includes('failed with upstream_error'))!;
    expect(turnLine).toBeDefined();
    // (The request's trace id is on these lines when the HTTP instrumentation runs: observability-process spec.)
  });

  it('a Socket.IO event: a request id of its own, the tenant, the socket, the event and the conversation', async () => {
    const socket = await connectSocket(t.url, t.userKey);
    try {
      fake.enqueue({ status: 529 });
      const ack = await socket.call('message', { message: 'Hello over the socket' });
      const conversationId: string = ack.conversation_id;
      await socket.waitFor((e) => e.name === 'error' && e.payload.conversation_id === conversationId);
      const ofEvent = await waitUntil(
        async () => linesWith('conversation_id', conversationId),
        (found) => found.length > 0,
        2_000,
        'the socket turn to log',
      );
      for (const line of ofEvent) {
        expect(line).toMatchObject({
          tenant_id: t.tenantId,
          socket_id: socket.socket.id,
          event: 'message',
          conversation_id: conversationId,
        });
        expect(line.request_id).toMatch(/^[0-9a-f-]{36}$/);
        expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
        keysOnce(line);
      }
    } finally {
      socket.close();
    }
  });

  it("a task's job: the task, the request that created it, the tenant and the conversation, and the job's trace", async () => {
    fake.enqueue({ text: 'All good.' });
    const created = await t.request('POST', '/v1/tasks', {
      json: { agent_name: 'support', instruction: 'Check order 1001.' },
    });
    expect(created.status).toBe(202);
    const taskId: string = created.body.task_id;
    const requestId = created.headers.get('x-request-id')!;
    await waitForStatus((id) => t.request('GET', `/v1/tasks/${id}`), taskId, ['completed']);
    const ofJob = await waitUntil(
      async () => linesWith('task_id', taskId).filter((l) => l.event === 'agent-tasks'),
      (found) => found.some((l) => String(l.msg).includes('completed')),
      2_000,
      'the job to log its end',
    );
    expect(ofJob.some((l) => String(l.msg).includes('running'))).toBe(true);
    const { conversation_id: conversationId } = (await t.request('GET', `/v1/tasks/${taskId}`)).body;
    for (const line of ofJob) {
      expect(line).toMatchObject({
        task_id: taskId,
        request_id: requestId,
        tenant_id: t.tenantId,
        conversation_id: conversationId ?? expect.any(String),
        job_id: taskId,
      });
      expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
      keysOnce(line);
    }
  });

  it('writes nothing below the configured level', () => {
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((line) => line.level >= 30)).toBe(true);
  });
});
