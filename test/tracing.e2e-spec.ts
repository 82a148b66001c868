// Our own spans, exported to memory: the span tree of one tool-using turn (agent.turn → llm.call, tool.execute,
// llm.call) with its attributes, and the trace context carried by a task's Bull job into its run and on to the
// webhook (`traceparent`). The app runs in this process against the fake Anthropic API; HTTP, PostgreSQL and
// Redis instrumentation need a real process (test/observability-process.e2e-spec.ts).
import { randomBytes } from 'node:crypto';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { TaskService } from '@lib/tasks';
import { FakeAnthropic } from './support/fake-anthropic';
import { startTestApp, TestApp } from './support/app';
import { removeQueueKeys, testQueuePrefix, waitForStatus, waitUntil } from './support/tasks';

jest.setTimeout(30_000);

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager().enable();

const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;
const childrenOf = (spans: ReadableSpan[], parent: ReadableSpan): ReadableSpan[] =>
  spans
    .filter((s) => parentOf(s) === parent.spanContext().spanId)
    .sort((a, b) => hrtimeMs(a.startTime) - hrtimeMs(b.startTime));
const hrtimeMs = ([seconds, nanos]: [number, number]): number => seconds * 1e3 + nanos / 1e6;

describe('tracing (in-memory exporter)', () => {
  const prefix = testQueuePrefix('tracing');
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  let fake: FakeAnthropic;
  let t: TestApp;
  let receiver: Server;
  let receiverUrl: string;
  const deliveries: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(contextManager);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    receiver = createServer((req, res) => {
      deliveries.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(200).end('ok'));
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    fake = await FakeAnthropic.start();
    t = await startTestApp({
      ANTHROPIC_API_KEY: 'sk-ant-test',
      ANTHROPIC_BASE_URL: fake.url,
      ANTHROPIC_MODEL: 'claude-sonnet-4-6',
      LLM_MAX_RETRIES: '0',
      QUEUE_PREFIX: prefix,
      RUN_WORKERS_IN_API: 'true',
      WEBHOOK_SECRET: secret,
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    });
  });

  beforeEach(() => exporter.reset());
  afterEach(() => fake.reset());

  afterAll(async () => {
    await t?.close();
    await fake?.stop();
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve));
    await removeQueueKeys(prefix);
    await provider.shutdown();
    contextManager.disable();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('records one tool-using turn as agent.turn → llm.call, tool.execute, llm.call with their attributes', async () => {
    fake.enqueue(
      {
        text: 'Let me look that up. ',
        toolUses: [{ id: 'toolu_trace_1', name: 'lookup_order', input: { order_number: '1001' } }],
        usage: { input_tokens: 200, output_tokens: 30 },
      },
      { text: 'Order 1001 has shipped.', usage: { input_tokens: 260, output_tokens: 12 } },
    );
    const res = await t.request('POST', '/v1/chat', { json: { message: 'Where is order 1001?' } });
    expect(res.status).toBe(200);
    const conversationId: string = res.body.conversation_id;

    const spans = exporter.getFinishedSpans();
    const turns = spans.filter(
      (s) => s.name === 'agent.turn' && s.attributes['conversation.id'] === conversationId,
    );
    expect(turns).toHaveLength(1);
    const [turn] = turns;
    expect(turn.attributes).toMatchObject({
      'agent.name': 'support',
      'tenant.id': t.tenantId,
      'conversation.id': conversationId,
      'turn.stop_reason': 'end_turn',
      'turn.iterations': 2,
      'gen_ai.usage.input_tokens': 460,
      'gen_ai.usage.output_tokens': 42,
    });
    expect(turn.attributes['llm.cost_usd']).toBeCloseTo(res.body.cost_usd, 8);

    const children = childrenOf(spans, turn);
    expect(children.map((s) => s.name)).toEqual(['llm.call', 'tool.execute', 'llm.call']);
    for (const child of children) expect(child.spanContext().traceId).toBe(turn.spanContext().traceId);

    const [firstCall, tool, secondCall] = children;
    expect(firstCall.attributes).toMatchObject({
      'gen_ai.request.model': 'claude-sonnet-4-6',
      'gen_ai.response.model': 'claude-sonnet-4-6',
      'gen_ai.usage.input_tokens': 200,
      'gen_ai.usage.output_tokens': 30,
      'gen_ai.response.finish_reasons': ['tool_use'],
      'agent.name': 'support',
    });
    expect(firstCall.attributes['llm.cost_usd']).toBeCloseTo((200 * 3 + 30 * 15) / 1e6, 10);
    expect(typeof firstCall.attributes['llm.time_to_first_token_ms']).toBe('number');
    expect(secondCall.attributes).toMatchObject({
      'gen_ai.usage.input_tokens': 260,
      'gen_ai.usage.output_tokens': 12,
      'gen_ai.response.finish_reasons': ['end_turn'],
    });
    expect(tool.attributes).toMatchObject({
      'tool.name': 'lookup_order',
      'tool.use_id': 'toolu_trace_1',
      'tool.is_error': false,
    });
    // The tool ran between the two model calls (to the millisecond: span clocks may differ in sub-ms precision).
    expect(hrtimeMs(tool.startTime)).toBeGreaterThanOrEqual(hrtimeMs(firstCall.endTime) - 1);
    expect(hrtimeMs(secondCall.startTime)).toBeGreaterThanOrEqual(hrtimeMs(tool.endTime) - 1);
  });

  it('marks a failing tool with tool.is_error and a failed model call with its error kind', async () => {
    fake.enqueue(
      {
        toolUses: [{ id: 'toolu_trace_bad', name: 'lookup_order', input: { order_number: 42 } }],
        usage: { input_tokens: 50, output_tokens: 5 },
      },
      { status: 500 },
    );
    const res = await t.request('POST', '/v1/chat', { json: { message: 'Where is order 42?' } });
    expect(res.status).toBe(502);
    const spans = exporter.getFinishedSpans();
    const turn = spans.find((s) => s.name === 'agent.turn')!;
    expect(turn.status.code).toBe(2); // ERROR
    const [first, tool, second] = childrenOf(spans, turn);
    expect(first.name).toBe('llm.call');
    expect(tool.attributes).toMatchObject({ 'tool.name': 'lookup_order', 'tool.is_error': true });
    expect(second.attributes['llm.outcome']).toBe('server_error');
    expect(second.status.code).toBe(2);
  });

  it("carries the trace context into the task's job and on to its webhook as traceparent", async () => {
    fake.enqueue({ text: 'Report ready.', usage: { input_tokens: 40, output_tokens: 4 } });
    // The request that queues the task runs inside a trace (the HTTP instrumentation's span, in production).
    const created = await t.request('POST', '/v1/tasks', {
      json: { agent_name: 'support', instruction: 'Summarise order 1001.', webhook_url: receiverUrl },
    });
    expect(created.status).toBe(202);
    const taskId: string = created.body.task_id;
    await waitForStatus((id) => t.request('GET', `/v1/tasks/${id}`), taskId, ['completed']);
    await waitUntil(
      async () => deliveries.length,
      (n) => n > 0,
      10_000,
      'the webhook',
    );
    const spans = await waitUntil(
      async () => exporter.getFinishedSpans(),
      (all) => all.some((s) => s.name === 'webhook.deliver'),
      5_000,
      'the webhook.deliver span',
    );
    const run = spans.find((s) => s.name === 'task.process' && s.attributes['task.id'] === taskId)!;
    expect(run).toBeDefined();
    expect(run.attributes).toMatchObject({ 'messaging.destination.name': 'agent-tasks', 'task.attempt': 1 });
    const turn = spans.find((s) => s.name === 'agent.turn' && s.attributes['task.id'] === taskId)!;
    expect(parentOf(turn)).toBe(run.spanContext().spanId);
    const delivery = spans.find((s) => s.name === 'webhook.deliver' && s.attributes['task.id'] === taskId)!;
    expect(parentOf(delivery)).toBe(run.spanContext().spanId);
    expect(delivery.spanContext().traceId).toBe(run.spanContext().traceId);

    const traceparent = String(deliveries[0].traceparent);
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const [, traceId, parentId] = traceparent.split('-');
    expect(traceId).toBe(run.spanContext().traceId);
    expect(parentId).toBe(delivery.spanContext().spanId);
    // The signature headers are still there, untouched by the trace headers.
    expect(deliveries[0]['webhook-signature']).toMatch(/^v1,/);
  });

  it('continues the trace of whatever queued the task: the run is a child of the queuing span', async () => {
    fake.enqueue({ text: 'Done.', usage: { input_tokens: 10, output_tokens: 2 } });
    // In production the HTTP instrumentation's span of POST /v1/tasks is active here.
    const queuing = trace.getTracer('test').startSpan('POST /v1/tasks');
    const task = await context.with(trace.setSpan(context.active(), queuing), () =>
      t.app.get(TaskService).create(t.tenantId, { agentName: 'support', instruction: 'Check order 1001.' }),
    );
    queuing.end();
    await waitForStatus((id) => t.request('GET', `/v1/tasks/${id}`), task.id, ['completed']);
    const spans = await waitUntil(
      async () => exporter.getFinishedSpans(),
      (all) => all.some((s) => s.name === 'task.process' && s.attributes['task.id'] === task.id),
      5_000,
      'the task.process span',
    );
    const run = spans.find((s) => s.name === 'task.process' && s.attributes['task.id'] === task.id)!;
    expect(run.spanContext().traceId).toBe(queuing.spanContext().traceId);
    expect(parentOf(run)).toBe(queuing.spanContext().spanId);
  });
});
