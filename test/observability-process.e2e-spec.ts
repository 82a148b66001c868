// Tracing in a real server process, switched on by the standard OTEL_* variables and exported over OTLP (JSON) to
// a collector stand-in: HTTP, PostgreSQL and Redis spans from the instrumentations, our own spans, one trace from
// `POST /v1/tasks` (continuing the caller's traceparent) through the job to the webhook's `traceparent`, and the
// trace id on the log lines of the request and of the job.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeAnthropic } from './support/fake-anthropic';
import { removeTenantData, request } from './support/app';
import { buildServer, BuiltServer, ServerProcess, startServerProcess } from './support/server-process';
import { removeQueueKeys, testQueuePrefix, waitUntil } from './support/tasks';
import { testEnv } from './support/test-env';

jest.setTimeout(60_000);

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  service: string;
}

const SERVER = 2;
const CLIENT = 3;

/** Stands in for an OpenTelemetry collector: OTLP/HTTP with JSON bodies on /v1/traces. */
async function startCollector(): Promise<{ url: string; spans: OtlpSpan[]; server: Server }> {
  const spans: OtlpSpan[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const payload = JSON.parse(body);
        for (const resourceSpans of payload.resourceSpans ?? []) {
          const resource = attributesOf(resourceSpans.resource?.attributes);
          for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
            for (const span of scopeSpans.spans ?? []) {
              spans.push({
                traceId: span.traceId,
                spanId: span.spanId,
                parentSpanId: span.parentSpanId || undefined,
                name: span.name,
                kind: span.kind,
                attributes: attributesOf(span.attributes),
                service: String(resource['service.name']),
              });
            }
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, server };
}

function attributesOf(
  list: Array<{ key: string; value: Record<string, unknown> }> = [],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list) {
    const [[kind, raw]] = Object.entries(value);
    out[key] = kind === 'intValue' ? Number(raw) : raw;
  }
  return out;
}

describe('tracing in a server process (OTLP)', () => {
  const prefix = testQueuePrefix('otlp');
  const tenant = `test-${randomUUID()}`;
  const adminKey = `operator-chosen-${randomUUID()}`;
  let server: BuiltServer;
  let cwd: string;
  let fake: FakeAnthropic;
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let receiver: Server;
  let receiverUrl: string;
  const webhooks: IncomingHttpHeaders[] = [];
  let proc: ServerProcess;

  beforeAll(async () => {
    server = buildServer();
    cwd = mkdtempSync(join(tmpdir(), 'agent-backend-otlp-'));
    fake = await FakeAnthropic.start();
    collector = await startCollector();
    receiver = createServer((req, res) => {
      webhooks.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/task-events`;
    proc = await startServerProcess(
      server,
      testEnv({
        DEFAULT_TENANT: tenant,
        ADMIN_API_KEY: adminKey,
        ANTHROPIC_API_KEY: 'sk-ant-test',
        ANTHROPIC_BASE_URL: fake.url,
        LLM_MAX_RETRIES: '0',
        LOG_LEVEL: 'info',
        QUEUE_PREFIX: prefix,
        RUN_WORKERS_IN_API: 'true',
        WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
        WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '100',
      }),
      cwd,
    );
  });

  afterAll(async () => {
    await proc?.stop();
    await fake?.stop();
    for (const s of [collector?.server, receiver]) {
      s?.closeAllConnections();
      await new Promise((resolve) => s?.close(resolve));
    }
    server?.remove();
    rmSync(cwd, { recursive: true, force: true });
    await removeTenantData(tenant);
    await removeQueueKeys(prefix);
  });

  it('says at start-up that tracing is on', () => {
    expect(proc.lines.some((l) => l.includes('tracing to the configured OTLP exporter'))).toBe(true);
  });

  it('follows one task from POST /v1/tasks through its job, model calls, tools and database to its webhook', async () => {
    fake.enqueue(
      {
        text: 'Looking it up. ',
        toolUses: [{ id: 'toolu_otlp', name: 'lookup_order', input: { order_number: '1001' } }],
        usage: { input_tokens: 120, output_tokens: 15 },
      },
      { text: 'Order 1001 has shipped.', usage: { input_tokens: 150, output_tokens: 8 } },
    );
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const created = await request(proc.url, 'POST', '/v1/tasks', {
      key: adminKey,
      headers: { traceparent: `00-${traceId}-${callerSpanId}-01` },
      json: { agent_name: 'support', instruction: 'Where is order 1001?', webhook_url: receiverUrl },
    });
    expect(created.status).toBe(202);
    const taskId: string = created.body.task_id;
    const requestId = created.headers.get('x-request-id')!;

    await waitUntil(
      async () => webhooks.length,
      (n) => n > 0,
      15_000,
      'the webhook',
    );
    const [, webhookTrace] = String(webhooks[0].traceparent).split('-');
    expect(webhookTrace).toBe(traceId);

    const wanted = ['task.process', 'agent.turn', 'llm.call', 'tool.execute', 'webhook.deliver'];
    const spans = await waitUntil(
      async () => collector.spans.filter((s) => s.traceId === traceId),
      (found) =>
        wanted.every((name) => found.some((s) => s.name === name)) &&
        found.some((s) => s.kind === CLIENT && String(s.attributes['http.request.method']) === 'POST'),
      15_000,
      'the task trace to be exported',
    );
    const named = (name: string) => spans.filter((s) => s.name === name);
    const byId = new Map(spans.map((s) => [s.spanId, s]));

    // The HTTP server span continues the caller's trace and names the route template.
    const post = spans.find((s) => s.kind === SERVER && s.parentSpanId === callerSpanId)!;
    expect(post).toBeDefined();
    expect(post.name).toBe('POST /v1/tasks');
    expect(post.attributes['http.route']).toBe('/v1/tasks');
    expect(post.attributes['tenant.id']).toBe(tenant);
    expect(post.service).toBe('agent-backend-api');

    // PostgreSQL and Redis calls made while serving it are spans of the same trace.
    expect(
      spans.some(
        (s) => s.attributes['db.system'] === 'postgresql' || s.attributes['db.system.name'] === 'postgresql',
      ),
    ).toBe(true);
    expect(
      spans.some((s) => s.attributes['db.system'] === 'redis' || s.attributes['db.system.name'] === 'redis'),
    ).toBe(true);

    // The job's run descends from the request that queued it.
    const [run] = named('task.process');
    expect(run.attributes['task.id']).toBe(taskId);
    let ancestor = byId.get(run.parentSpanId!);
    while (ancestor && ancestor !== post) ancestor = byId.get(ancestor.parentSpanId!);
    expect(ancestor).toBe(post);

    const [turn] = named('agent.turn');
    expect(turn.parentSpanId).toBe(run.spanId);
    expect(named('llm.call').map((s) => s.parentSpanId)).toEqual([turn.spanId, turn.spanId]);
    expect(named('tool.execute')[0]).toMatchObject({
      parentSpanId: turn.spanId,
      attributes: expect.objectContaining({ 'tool.name': 'lookup_order', 'tool.is_error': false }),
    });

    // The webhook POST is a client span under webhook.deliver, and the receiver continues the trace from it.
    const [, receivedTrace, receivedParent] = String(webhooks[0].traceparent).split('-');
    expect(receivedTrace).toBe(traceId);
    const clientPost = byId.get(receivedParent)!;
    expect(clientPost).toMatchObject({ kind: CLIENT });
    const delivery = byId.get(clientPost.parentSpanId!)!;
    expect(delivery).toMatchObject({ name: 'webhook.deliver', parentSpanId: run.spanId });

    // The log lines of the request and of the job carry the trace id.
    const logs = proc.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const ofRequest = logs.filter((l) => l.request_id === requestId && !l.task_id);
    expect(ofRequest.length).toBeGreaterThan(0);
    for (const line of ofRequest) expect(line.trace_id).toBe(traceId);
    const ofJob = logs.filter((l) => l.task_id === taskId && l.event === 'agent-tasks');
    expect(ofJob.length).toBeGreaterThan(0);
    for (const line of ofJob) expect(line).toMatchObject({ trace_id: traceId, tenant_id: tenant });
  });

  it('leaves health probes and metric scrapes out of the traces', async () => {
    const before = collector.spans.length;
    expect((await request(proc.url, 'GET', '/health/live', { key: null })).status).toBe(200);
    expect((await request(proc.url, 'GET', '/metrics', { key: adminKey })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const probes = collector.spans
      .slice(before)
      .filter((s) =>
        String(s.attributes['url.path'] ?? s.attributes['http.target'] ?? '').match(/health|metrics/),
      );
    expect(probes).toEqual([]);
  });
});
