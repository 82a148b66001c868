// Retries, the key pool and readiness, end to end: the real app and SDK against the fake provider.
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { FakeAnthropic, FakeReply, RecordedRequest } from './support/fake-anthropic';
import { startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';

/** A key of this file's own, so its rate-limit state in Redis is nobody else's. */
const key = (name: string) => `sk-ant-${name}-${randomUUID()}`;

/** Fast retries: the policy is the production one, only the delays are shortened. */
const retryEnv = (fake: FakeAnthropic, apiKey: string) => ({
  ANTHROPIC_API_KEY: apiKey,
  ANTHROPIC_BASE_URL: fake.url,
  LLM_MAX_RETRIES: '2',
  LLM_RETRY_BASE_MS: '10',
  LLM_RETRY_MAX_DELAY_MS: '40',
});

/** The SSE frames of a finished stream (`id: <seq>`, `event: <name>`, `data: <JSON>`), heartbeat comments left out. */
async function sse(t: TestApp, json: unknown): Promise<Array<{ id?: number; event: string; data: any }>> {
  const response = await fetch(`${t.url}/v1/chat/stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${t.userKey}` },
    body: JSON.stringify(json),
  });
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((frame) => /^event: /m.test(frame))
    .map((frame) => {
      const id = /^id: (.*)$/m.exec(frame)?.[1];
      return {
        ...(id === undefined ? {} : { id: Number(id) }),
        event: /^event: (.*)$/m.exec(frame)![1],
        data: JSON.parse(/^data: (.*)$/m.exec(frame)![1]),
      };
    });
}

/** Answers from a script, recording when each request arrived. */
function scripted(fake: FakeAnthropic, replies: FakeReply[]): number[] {
  const arrivals: number[] = [];
  fake.respondWith(() => {
    arrivals.push(Date.now());
    return replies.shift() ?? { text: 'unscripted' };
  });
  return arrivals;
}

describe('provider retries', () => {
  let fake: FakeAnthropic;
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    t = await startTestApp(retryEnv(fake, key('retries')));
    db = await openTestDataSource();
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await db.destroy();
    await t.close();
    await fake.stop();
  });

  const chat = (json: unknown) => t.request('POST', '/v1/chat', { json });

  it('retries a 429 after its retry-after, then answers', async () => {
    const arrivals = scripted(fake, [{ status: 429, retryAfterMs: 300 }, { text: 'Second time lucky.' }]);
    const res = await chat({ message: 'Hello' });
    expect(res.status).toBe(200);
    expect(res.body.response).toBe('Second time lucky.');
    expect(fake.requests).toHaveLength(2);
    // The provider asked for 300 ms: the retry came no sooner (the key was held off for every instance).
    expect(arrivals[1] - arrivals[0]).toBeGreaterThanOrEqual(290);
    // The SDK itself never retried: each attempt is a first attempt to it.
    expect(fake.requests.map((r) => r.headers['x-stainless-retry-count'])).toEqual(['0', '0']);
  });

  it('retries 529 and 5xx with jittered backoff, within the attempt limit', async () => {
    scripted(fake, [{ status: 529 }, { status: 500 }, { text: 'Third attempt.' }]);
    const res = await chat({ message: 'Hello' });
    expect(res.status).toBe(200);
    expect(res.body.response).toBe('Third attempt.');
    expect(fake.requests).toHaveLength(3);
  });

  it('gives up on a 529 storm after the configured attempts with a clean 502, storing nothing', async () => {
    scripted(fake, [{ status: 529 }, { status: 529 }, { status: 529 }, { status: 529 }]);
    const res = await chat({ message: 'Storm ahead' });
    expect(res.status).toBe(502);
    expect(res.body.error).toEqual({
      type: 'upstream_error',
      message: 'The model provider is overloaded; retry in a moment.',
      request_id: expect.any(String),
    });
    expect(fake.requests).toHaveLength(3);
    const stored = await db.query(
      `SELECT count(*)::int AS n FROM conversations WHERE tenant_id = $1 AND title = 'Storm ahead'`,
      [t.tenantId],
    );
    expect(stored[0].n).toBe(0);
  });

  it('never retries a spend-limit 429', async () => {
    scripted(fake, [
      {
        status: 429,
        errorCode: 'enforced_spend_limit_reached',
        message: 'You have reached your specified API usage limits.',
      },
      { text: 'must not be reached' },
    ]);
    const res = await chat({ message: 'Hello' });
    expect(res.status).toBe(502);
    expect(res.body.error.message).toMatch(/billing/);
    expect(fake.requests).toHaveLength(1);
  });

  it('retries a stream that broke before any delta reached the client', async () => {
    scripted(fake, [{ text: 'Lost answer', cutAfterEvents: 3 }, { text: 'Recovered answer' }]);
    const frames = await sse(t, { message: 'Hello' });
    expect(frames.filter((f) => f.event === 'text').map((f) => f.data.content)).toEqual([
      'Recovered ',
      'answer',
    ]);
    expect(frames.at(-1)).toMatchObject({ event: 'done', data: { stop_reason: 'end_turn' } });
    // One run whose frames are numbered in order: the retry did not start another run.
    expect(frames[0]).toMatchObject({ event: 'run_started', data: { run_id: frames.at(-1)!.data.run_id } });
    expect(frames.every((f, i) => i === 0 || f.id! > frames[i - 1].id!)).toBe(true);
    expect(frames.every((f) => f.data.seq === f.id && f.data.run_id === frames[0].data.run_id)).toBe(true);
    expect(fake.requests).toHaveLength(2);
  });

  it('ends the turn with upstream_error when the stream breaks after a delta, leaving the history as it was', async () => {
    fake.respondWith(() => ({ text: 'First answer' }));
    const first = await chat({ message: 'First' });
    const id = first.body.conversation_id;
    fake.reset();
    scripted(fake, [{ text: 'This answer is cut off half way', cutAfterEvents: 6 }, { text: 'no retry' }]);
    const frames = await sse(t, { message: 'Second', conversation_id: id });
    expect(frames.filter((f) => f.event === 'text').length).toBeGreaterThan(0);
    const runId = frames[0].data.run_id;
    expect(frames.at(-1)).toEqual({
      id: expect.any(Number),
      event: 'error',
      data: {
        conversation_id: id,
        run_id: runId,
        seq: frames.at(-1)!.id,
        type: 'upstream_error',
        message: expect.any(String),
      },
    });
    expect(fake.requests).toHaveLength(1);
    const stored = await t.request('GET', `/v1/conversations/${id}`);
    expect(stored.body.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant']);
    expect(stored.body.message_count).toBe(2);
  });
});

describe('the provider key pool', () => {
  let fake: FakeAnthropic;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
  });
  afterEach(async () => {
    fake.reset();
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  afterAll(() => fake.stop());

  const keyOf = (request: RecordedRequest) => String(request.headers.authorization).replace('Bearer ', '');

  it('takes a key answered 401 out of the pool, goes on with the others and reports it in readiness', async () => {
    const bad = key('revoked');
    const good = key('good');
    fake.respondWith((request) => (keyOf(request) === bad ? { status: 401 } : { text: 'Fine.' }));
    const t = await startTestApp({
      ANTHROPIC_API_KEYS: `${bad},${good}`,
      ANTHROPIC_BASE_URL: fake.url,
      LLM_MAX_RETRIES: '0',
    });
    apps.push(t);
    for (let i = 0; i < 4; i += 1) {
      const res = await t.request('POST', '/v1/chat', { json: { message: `Hello ${i}` } });
      expect(res.status).toBe(200);
    }
    expect(fake.requests.filter((r) => keyOf(r) === bad)).toHaveLength(1);
    expect(fake.requests.filter((r) => keyOf(r) === good)).toHaveLength(4);

    const ready = await t.request('GET', '/health/ready', { key: null });
    expect(ready.status).toBe(200);
    expect(ready.body.info.llm_keys).toEqual({
      status: 'up',
      total: 2,
      active: 1,
      keys: [
        {
          key: expect.stringMatching(/^#1 \(sha256 [0-9a-f]{16}\)$/),
          status: 'removed',
          reason: expect.stringContaining('401'),
          removed_at: expect.any(String),
        },
        { key: expect.stringMatching(/^#2 /), status: 'active' },
      ],
    });
    expect(JSON.stringify(ready.body)).not.toContain('sk-ant');
  });

  it('answers 503 from readiness once every key was refused', async () => {
    fake.respondWith(() => ({ status: 403 }));
    const t = await startTestApp({
      ANTHROPIC_API_KEY: key('forbidden'),
      ANTHROPIC_BASE_URL: fake.url,
      LLM_MAX_RETRIES: '0',
    });
    apps.push(t);
    expect((await t.request('GET', '/health/ready', { key: null })).status).toBe(200);
    const res = await t.request('POST', '/v1/chat', { json: { message: 'Hello' } });
    expect(res.status).toBe(502);
    const ready = await t.request('GET', '/health/ready', { key: null });
    expect(ready.status).toBe(503);
    expect(ready.body.error.details).toEqual([
      { field: 'llm_keys', message: 'the provider refused every API key' },
    ]);
  });

  it('lets a key in a 429 back-off give way to the other keys', async () => {
    const limited = key('limited');
    const spare = key('spare');
    fake.respondWith((request) =>
      keyOf(request) === limited ? { status: 429, retryAfter: 30 } : { text: 'From the spare key.' },
    );
    const t = await startTestApp({
      ANTHROPIC_API_KEYS: `${limited},${spare}`,
      ANTHROPIC_BASE_URL: fake.url,
      LLM_MAX_RETRIES: '2',
      LLM_RETRY_BASE_MS: '10',
      LLM_RETRY_MAX_DELAY_MS: '40',
    });
    apps.push(t);
    const startedAt = Date.now();
    for (let i = 0; i < 4; i += 1) {
      const res = await t.request('POST', '/v1/chat', { json: { message: `Hello ${i}` } });
      expect(res.status).toBe(200);
    }
    // Nobody waited the 30 s the limited key asked for, and it was asked only once.
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect(fake.requests.filter((r) => keyOf(r) === limited)).toHaveLength(1);
    expect(fake.requests.filter((r) => keyOf(r) === spare)).toHaveLength(4);
  });
});
