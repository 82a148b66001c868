// Prometheus metrics at /metrics: who may read them (METRICS_TOKEN or an admin key on the API port, or a listener
// of its own with METRICS_PORT), and the series operators need, observed through real turns, sockets and tasks.
import { randomBytes } from 'node:crypto';
import { MetricsServer } from '@lib/core';
import { FakeAnthropic } from './support/fake-anthropic';
import { request, startTestApp, TestApp } from './support/app';
import { connectSocket } from './support/socket';
import { removeQueueKeys, testQueuePrefix, waitForStatus, waitUntil } from './support/tasks';

jest.setTimeout(30_000);

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    out.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return out;
}

/** The value of the one series of `name` whose labels include `labels` (0 when there is none). */
function valueOf(text: string, name: string, labels: Record<string, string> = {}): number {
  const found = samples(text).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return found.reduce((sum, s) => sum + s.value, 0);
}

describe('/metrics', () => {
  const prefix = testQueuePrefix('metrics');
  const metricsToken = `scrape-${randomBytes(24).toString('hex')}`;
  let fake: FakeAnthropic;
  let t: TestApp;

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    t = await startTestApp({
      ANTHROPIC_API_KEY: 'sk-ant-test',
      ANTHROPIC_BASE_URL: fake.url,
      ANTHROPIC_MODEL: 'claude-sonnet-4-6',
      LLM_MAX_RETRIES: '0',
      QUEUE_PREFIX: prefix,
      RUN_WORKERS_IN_API: 'true',
      METRICS_TOKEN: metricsToken,
    });
  });

  afterEach(() => fake.reset());

  afterAll(async () => {
    await t?.close();
    await fake?.stop();
    await removeQueueKeys(prefix);
  });

  const scrape = async (): Promise<string> => {
    const res = await t.request('GET', '/metrics', { key: t.adminKey });
    expect(res.status).toBe(200);
    return res.body as string;
  };

  describe('access on the API port', () => {
    it('refuses a scrape without credentials (401) and with a user key (403)', async () => {
      const anonymous = await t.request('GET', '/metrics', { key: null });
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.error).toMatchObject({ type: 'unauthorized' });
      expect(anonymous.body.error.message).toContain('METRICS_TOKEN');
      const wrong = await t.request('GET', '/metrics', { key: `scrape-${randomBytes(24).toString('hex')}` });
      expect(wrong.status).toBe(401);
      const user = await t.request('GET', '/metrics', { key: t.userKey });
      expect(user.status).toBe(403);
      expect(user.body.error).toMatchObject({ type: 'forbidden' });
    });

    it('serves the Prometheus text format to METRICS_TOKEN and to an admin key, never rate limited', async () => {
      for (const key of [metricsToken, t.adminKey]) {
        const res = await t.request('GET', '/metrics', { key });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
        expect(res.headers.get('x-ratelimit-limit')).toBeNull();
        expect(res.body).toContain('# TYPE process_cpu_user_seconds_total counter');
        expect(res.body).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
      }
    });

    it('is not part of the OpenAPI document', async () => {
      const docs = await t.request('GET', '/docs-json', { key: null });
      expect(Object.keys(docs.body.paths)).not.toContain('/metrics');
    });
  });

  it('counts HTTP requests by route template and status, never by raw URL', async () => {
    const id = '3f1c9a52-8a4e-4c5b-9d7f-2b6e1f0a9c11';
    expect((await t.request('GET', `/v1/conversations/${id}`)).status).toBe(404);
    expect((await t.request('GET', '/v1/agents')).status).toBe(200);
    const text = await scrape();
    expect(
      valueOf(text, 'http_request_duration_seconds_count', {
        method: 'GET',
        route: '/v1/conversations/:id',
        status_code: '404',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      valueOf(text, 'http_request_duration_seconds_count', {
        method: 'GET',
        route: '/v1/agents',
        status_code: '200',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(id);
  });

  it('measures model calls (duration, time to first token), tokens and cost by agent and model, and tools by outcome', async () => {
    const before = await scrape();
    fake.enqueue(
      {
        text: 'Checking. ',
        toolUses: [
          { id: 'toolu_m1', name: 'lookup_order', input: { order_number: '1001' } },
          { id: 'toolu_m2', name: 'lookup_order', input: { order_number: 7 } },
        ],
        usage: { input_tokens: 300, output_tokens: 20, cache_read_input_tokens: 100 },
      },
      { text: 'Order 1001 has shipped.', usage: { input_tokens: 400, output_tokens: 10 } },
    );
    const res = await t.request('POST', '/v1/chat', { json: { message: 'Where is order 1001?' } });
    expect(res.status).toBe(200);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) =>
      valueOf(after, name, labels) - valueOf(before, name, labels);
    const model = { agent: 'support', model: 'claude-sonnet-4-6' };

    expect(delta('llm_call_duration_seconds_count', { ...model, outcome: 'ok' })).toBe(2);
    expect(delta('llm_time_to_first_token_seconds_count', model)).toBe(2);
    expect(delta('llm_tokens_total', { ...model, kind: 'input' })).toBe(700);
    expect(delta('llm_tokens_total', { ...model, kind: 'output' })).toBe(30);
    expect(delta('llm_tokens_total', { ...model, kind: 'cache_read' })).toBe(100);
    expect(delta('llm_cost_usd_total', model)).toBeCloseTo(res.body.cost_usd, 8);
    expect(delta('tool_call_duration_seconds_count', { tool: 'lookup_order', outcome: 'ok' })).toBe(1);
    expect(delta('tool_call_duration_seconds_count', { tool: 'lookup_order', outcome: 'error' })).toBe(1);
    // The provider rate limiter's waits (observed by the limiter itself) are in the same registry.
    expect(after).toContain('# TYPE llm_rate_limit_wait_seconds histogram');
  });

  it('counts a failed model call by its error kind', async () => {
    const before = await scrape();
    fake.enqueue({ status: 529 });
    expect((await t.request('POST', '/v1/chat', { json: { message: 'Hello?' } })).status).toBe(502);
    const after = await scrape();
    const labels = { agent: 'support', model: 'claude-sonnet-4-6', outcome: 'overloaded' };
    expect(
      valueOf(after, 'llm_call_duration_seconds_count', labels) -
        valueOf(before, 'llm_call_duration_seconds_count', labels),
    ).toBe(1);
  });

  it('shows open Socket.IO connections', async () => {
    const base = valueOf(await scrape(), 'socketio_connections');
    const socket = await connectSocket(t.url, t.userKey);
    try {
      expect(valueOf(await scrape(), 'socketio_connections')).toBe(base + 1);
    } finally {
      socket.close();
    }
    await waitUntil(
      async () => valueOf(await scrape(), 'socketio_connections'),
      (n) => n === base,
      5_000,
      'the socket to be gone',
    );
  });

  it('counts lock conflicts (a second turn on a busy conversation)', async () => {
    const before = valueOf(await scrape(), 'conversation_lock_conflicts_total');
    fake.enqueue({ text: 'First.' });
    const first = await t.request('POST', '/v1/chat', { json: { message: 'Start' } });
    const conversationId = first.body.conversation_id;
    const gate = fake.gate();
    fake.enqueue({ text: 'Slow answer.', gate });
    const running = t.request('POST', '/v1/chat', {
      json: { message: 'Slow', conversation_id: conversationId },
    });
    await gate.reached;
    const busy = await t.request('POST', '/v1/chat', {
      json: { message: 'Too soon', conversation_id: conversationId },
    });
    expect(busy.status).toBe(409);
    gate.release();
    expect((await running).status).toBe(200);
    expect(valueOf(await scrape(), 'conversation_lock_conflicts_total')).toBe(before + 1);
  });

  it('reports queue jobs by state and task durations by agent and status', async () => {
    fake.enqueue({ text: 'Task done.' });
    const created = await t.request('POST', '/v1/tasks', {
      json: { agent_name: 'support', instruction: 'Check order 1001.' },
    });
    expect(created.status).toBe(202);
    await waitForStatus((id) => t.request('GET', `/v1/tasks/${id}`), created.body.task_id, ['completed']);
    const text = await scrape();
    expect(
      valueOf(text, 'task_duration_seconds_count', { agent: 'support', status: 'completed' }),
    ).toBeGreaterThanOrEqual(1);
    for (const state of ['waiting', 'active', 'delayed', 'completed', 'failed']) {
      expect(text).toMatch(new RegExp(`^queue_jobs\\{queue="agent-tasks",state="${state}"\\} \\d+$`, 'm'));
      expect(text).toMatch(new RegExp(`^queue_jobs\\{queue="webhooks",state="${state}"\\} \\d+$`, 'm'));
    }
    expect(valueOf(text, 'queue_jobs', { queue: 'agent-tasks', state: 'completed' })).toBeGreaterThanOrEqual(
      1,
    );
  });

  describe('with METRICS_PORT', () => {
    let separate: TestApp;

    beforeAll(async () => {
      separate = await startTestApp({ METRICS_PORT: '0', HOST: '127.0.0.1' });
    });

    afterAll(async () => {
      await separate?.close();
    });

    it('serves /metrics on a listener of its own, without credentials, and not on the API port', async () => {
      const url = separate.app.get(MetricsServer).url!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect(new URL(url).port).not.toBe(new URL(separate.url).port);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      expect(await res.text()).toContain('# TYPE http_request_duration_seconds histogram');
      expect((await fetch(url.replace('/metrics', '/other'))).status).toBe(404);
      // A worker's liveness probe is served on the same listener.
      const live = await fetch(url.replace('/metrics', '/health/live'));
      expect([live.status, await live.json()]).toEqual([200, { status: 'ok' }]);
      const onApiPort = await request(separate.url, 'GET', '/metrics', { key: separate.adminKey });
      expect(onApiPort.status).toBe(404);
    });
  });
});
