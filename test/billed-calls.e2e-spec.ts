// Usage that matches the bill: a model call that is cancelled, cut mid-stream or fails after the provider started
// answering is recorded in llm_calls with its status and what the provider reported or streamed, counts in
// /v1/usage, in the conversation's totals and against its cost ceiling; cache tokens are reported apart.
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { FakeAnthropic } from './support/fake-anthropic';
import { startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';
import { connectSocket, TestSocket } from './support/socket';

/** claude-sonnet-4-6, USD per token: 3 in, 15 out, 3.75 cache write, 0.3 cache read per million. */
const PRICE = { input: 3e-6, output: 15e-6, cacheWrite: 3.75e-6, cacheRead: 0.3e-6 };

/** A long answer the provider bills as it goes: message_start reports the input (cache reads and writes too). */
const LONG_ANSWER = 'Once upon a time there was a very long story that nobody ever heard the end of, because';

// Each test starts an app and runs turns on a shared, busy machine.
jest.setTimeout(20_000);

describe('billed model calls', () => {
  let fake: FakeAnthropic;
  let t: TestApp;
  let db: DataSource;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    t = await startTestApp({
      ANTHROPIC_API_KEY: `sk-ant-billed-${randomUUID()}`,
      ANTHROPIC_BASE_URL: fake.url,
      LLM_MAX_RETRIES: '1',
      LLM_RETRY_BASE_MS: '1',
      LLM_RETRY_MAX_DELAY_MS: '5',
    });
    db = await openTestDataSource();
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
    fake.reset();
  });
  afterAll(async () => {
    await db.destroy();
    await t.close();
    await fake.stop();
  });

  const calls = (conversationId: string): Promise<Array<Record<string, any>>> =>
    db.query(`SELECT * FROM llm_calls WHERE conversation_id = $1 ORDER BY created_at`, [conversationId]);
  const conversation = async (id: string) => (await t.request('GET', `/v1/conversations/${id}`)).body;
  const newConversation = async (json: Record<string, unknown> = {}): Promise<string> =>
    (await t.request('POST', '/v1/conversations', { json: { agent_name: 'support', ...json } })).body.id;

  /**
   * Sends a message over a socket, cancels the turn once the first delta arrived and answers its `done`; or
   * answers the error the message was refused with.
   */
  async function cancelledTurn(conversationId: string): Promise<Record<string, any>> {
    const gate = fake.gate();
    fake.enqueue({
      text: LONG_ANSWER,
      gate,
      usage: { input_tokens: 20_000, cache_read_input_tokens: 3_000, cache_creation_input_tokens: 1_000 },
    });
    const s = await connectSocket(t.url, t.userKey);
    sockets.push(s);
    const ack = await s.call('message', { message: 'Tell me a long story', conversation_id: conversationId });
    if (ack.error) return ack;
    await s.waitFor((e) => e.name === 'text');
    await s.call('cancel', { conversation_id: conversationId });
    const done = await s.waitFor((e) => e.name === 'done');
    gate.release();
    return done.payload;
  }

  it('records a call cancelled mid-stream with the input message_start reported and the output streamed so far', async () => {
    const id = await newConversation();
    const done = await cancelledTurn(id);
    expect(done.stop_reason).toBe('cancelled');

    const [row] = await calls(id);
    expect(row).toMatchObject({
      status: 'cancelled',
      stop_reason: 'cancelled',
      input_tokens: 20_000,
      cache_read_input_tokens: 3_000,
      cache_creation_input_tokens: 1_000,
    });
    // "Once " was streamed before the cancel: estimated at about four characters a token, at least one.
    expect(row.output_tokens).toBeGreaterThanOrEqual(1);
    expect(row.output_tokens).toBeLessThan(10);
    const cost =
      20_000 * PRICE.input +
      3_000 * PRICE.cacheRead +
      1_000 * PRICE.cacheWrite +
      row.output_tokens * PRICE.output;
    expect(Number(row.cost_usd)).toBeCloseTo(cost, 8);

    // The done event carries the billed call, cache tokens apart.
    expect(done).toMatchObject({
      input_tokens: 24_000,
      output_tokens: row.output_tokens,
      tokens_used: 24_000 + row.output_tokens,
      cache_read_input_tokens: 3_000,
      cache_creation_input_tokens: 1_000,
    });
    expect(done.cost_usd).toBeCloseTo(cost, 8);
    // The conversation's totals and /v1/usage count it too.
    const stored = await conversation(id);
    expect(stored.cost_usd).toBeCloseTo(cost, 8);
    expect(stored.total_tokens).toBe(24_000 + row.output_tokens);
    const usage = await t.request('GET', '/v1/usage?group_by=conversation');
    expect(usage.body.rows.find((r: { key: string }) => r.key === id)).toMatchObject({
      requests: 1,
      input_tokens: 24_000,
      output_tokens: row.output_tokens,
      cache_read_input_tokens: 3_000,
      cache_creation_input_tokens: 1_000,
    });
  });

  it('counts cancelled calls against the conversation cost ceiling: repeated cancels end in 402', async () => {
    // Each cancelled call bills about 0.065 USD of input; a turn's reservation is about 0.031 USD (max_tokens).
    const id = await newConversation({ cost_limit_usd: 0.2 });
    const outcomes: string[] = [];
    for (let i = 0; i < 6 && !outcomes.includes('budget_exceeded'); i += 1) {
      const answer = await cancelledTurn(id);
      outcomes.push(answer.error?.type ?? answer.stop_reason);
    }
    expect(outcomes).toEqual(['cancelled', 'cancelled', 'cancelled', 'budget_exceeded']);
    const refused = await t.request('POST', '/v1/chat', { json: { message: 'Again', conversation_id: id } });
    expect(refused.status).toBe(402);
    expect(refused.body.error.type).toBe('budget_exceeded');
    const rows = await calls(id);
    expect(rows.map((r) => r.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    const billed = rows.reduce((n, r) => n + Number(r.cost_usd), 0);
    expect((await conversation(id)).cost_usd).toBeCloseTo(billed, 8);
    expect(billed).toBeLessThanOrEqual(0.2);
    expect(billed).toBeGreaterThan(0.19);
  });

  it('records a call cut mid-stream as failed, on the totals of its conversation, though the turn fails', async () => {
    const id = await newConversation();
    fake.enqueue({
      text: LONG_ANSWER,
      usage: { input_tokens: 7_000 },
      // message_start, ping, content_block_start, two text deltas: then the connection drops.
      cutAfterEvents: 5,
    });
    const res = await t.request('POST', '/v1/chat', { json: { message: 'Tell me', conversation_id: id } });
    expect(res.status).toBe(502);
    expect(res.body.error.type).toBe('upstream_error');
    const [row] = await calls(id);
    expect(row).toMatchObject({ status: 'failed', stop_reason: 'connection', input_tokens: 7_000 });
    expect(row.output_tokens).toBeGreaterThanOrEqual(1);
    const stored = await conversation(id);
    expect(stored.messages).toEqual([]);
    expect(stored.cost_usd).toBeCloseTo(Number(row.cost_usd), 8);
    expect(stored.cost_usd).toBeGreaterThan(7_000 * PRICE.input - 1e-9);
  });

  it('records each failed attempt the provider had started answering, then the retry that completed', async () => {
    const id = await newConversation();
    fake.enqueue(
      // message_start, ping, then an `error` event after HTTP 200: billed, retried.
      { text: 'Lost', usage: { input_tokens: 4_000, output_tokens: 2 }, errorEventAfter: 2 },
      // An HTTP 529 bills nothing and leaves no record.
      { text: 'Recovered.', usage: { input_tokens: 4_000, output_tokens: 10 } },
    );
    const res = await t.request('POST', '/v1/chat', { json: { message: 'Hello', conversation_id: id } });
    expect(res.status).toBe(200);
    expect(res.body.response).toBe('Recovered.');
    const rows = await calls(id);
    expect(rows.map((r) => [r.status, r.stop_reason, r.input_tokens])).toEqual([
      ['failed', 'overloaded', 4_000],
      ['completed', 'end_turn', 4_000],
    ]);
    const billed = rows.reduce((n, r) => n + Number(r.cost_usd), 0);
    expect(res.body.input_tokens).toBe(8_000);
    expect(res.body.cost_usd).toBeCloseTo(billed, 8);
    expect((await conversation(id)).cost_usd).toBeCloseTo(billed, 8);
  });

  it('bills nothing for an attempt refused before the provider started answering', async () => {
    const id = await newConversation();
    fake.enqueue({ status: 529 }, { text: 'Fine.', usage: { input_tokens: 100, output_tokens: 3 } });
    const res = await t.request('POST', '/v1/chat', { json: { message: 'Hello', conversation_id: id } });
    expect(res.status).toBe(200);
    expect((await calls(id)).map((r) => r.status)).toEqual(['completed']);
  });

  it('carries cache reads and writes on ChatResponse and the usage rows', async () => {
    fake.enqueue({
      text: 'From the cache.',
      usage: {
        input_tokens: 50,
        output_tokens: 5,
        cache_read_input_tokens: 900,
        cache_creation_input_tokens: 60,
      },
    });
    const res = await t.request('POST', '/v1/chat', { json: { message: 'Cached?' } });
    expect(res.body).toMatchObject({
      input_tokens: 1_010,
      cache_read_input_tokens: 900,
      cache_creation_input_tokens: 60,
    });
    const usage = await t.request('GET', '/v1/usage?group_by=conversation');
    expect(usage.body.rows.find((r: { key: string }) => r.key === res.body.conversation_id)).toEqual({
      key: res.body.conversation_id,
      requests: 1,
      input_tokens: 1_010,
      output_tokens: 5,
      cache_read_input_tokens: 900,
      cache_creation_input_tokens: 60,
      cost_usd: expect.any(Number),
    });
  });
});
