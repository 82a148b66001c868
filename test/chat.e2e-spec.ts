// POST /v1/chat end to end: the real app and the real Anthropic SDK against the fake Messages API, history in PostgreSQL.
import { randomUUID } from 'node:crypto';
import { FakeAnthropic } from './support/fake-anthropic';
import { startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';
import type { DataSource } from 'typeorm';

describe('POST /v1/chat against the Anthropic API', () => {
  let fake: FakeAnthropic;
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    t = await startTestApp({
      ANTHROPIC_API_KEY: 'sk-ant-test',
      ANTHROPIC_BASE_URL: fake.url,
      ANTHROPIC_MODEL: 'claude-sonnet-4-6',
      LLM_MAX_RETRIES: '0',
    });
    db = await openTestDataSource();
  });

  afterEach(() => fake.reset());

  afterAll(async () => {
    await db.destroy();
    await t.close();
    await fake.stop();
  });

  const chat = (json: unknown, headers?: Record<string, string>) =>
    t.request('POST', '/v1/chat', { json, headers });
  const conversation = (id: string) => t.request('GET', `/v1/conversations/${id}`);

  it('answers a plain turn and stores it with its model call', async () => {
    fake.enqueue({ text: 'Hello! How can I help?', usage: { input_tokens: 120, output_tokens: 8 } });
    const res = await chat({ message: 'Hi there' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      response: 'Hello! How can I help?',
      agent_name: 'support',
      tools_used: [],
      input_tokens: 120,
      output_tokens: 8,
      total_tokens: 128,
      stop_reason: 'end_turn',
    });
    expect(res.body.cost_usd).toBeCloseTo((120 * 3 + 8 * 15) / 1e6, 8);
    const stored = await conversation(res.body.conversation_id);
    expect(stored.body).toMatchObject({ message_count: 2, title: 'Hi there', total_tokens: 128 });
    expect(stored.body.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant']);
    expect(stored.body.messages[1]).toMatchObject({
      id: res.body.message_id,
      content: [{ type: 'text', text: 'Hello! How can I help?' }],
    });
    const calls = await db.query(`SELECT * FROM llm_calls WHERE conversation_id = $1`, [
      res.body.conversation_id,
    ]);
    expect(calls).toEqual([
      expect.objectContaining({
        model: 'claude-sonnet-4-6',
        input_tokens: 120,
        output_tokens: 8,
        stop_reason: 'end_turn',
        tenant_id: t.tenantId,
      }),
    ]);
    const sent = fake.requests[0].body;
    expect(sent).toMatchObject({
      model: 'claude-sonnet-4-6',
      stream: true,
      messages: [{ role: 'user', content: 'Hi there' }],
    });
    expect(sent.tools?.map((tool) => tool.name)).toContain('lookup_order');
  });

  it('runs a tool loop: the model calls lookup_order, the result from PostgreSQL goes back, then it answers', async () => {
    fake.enqueue(
      {
        text: 'Let me check.',
        toolUses: [{ id: 'toolu_order', name: 'lookup_order', input: { order_number: '1001' } }],
      },
      { text: 'Order 1001 has shipped.' },
    );
    const res = await chat({ message: 'Where is order 1001?' });
    expect(res.status).toBe(200);
    expect(res.body.response).toBe('Let me check.Order 1001 has shipped.');
    expect(res.body.tools_used).toEqual([
      expect.objectContaining({
        tool_name: 'lookup_order',
        arguments: { order_number: '1001' },
        is_error: false,
      }),
    ]);
    expect(res.body.tools_used[0].result_summary.length).toBeLessThanOrEqual(200);
    expect(res.body.tools_used[0].result_summary).toContain('1001');
    const second = fake.requests[1].body.messages;
    expect(second).toHaveLength(3);
    expect(second[2]).toMatchObject({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 'toolu_order' }],
    });
    const result = (second[2].content as Array<{ content: string; is_error?: boolean }>)[0];
    expect(result.is_error).toBeUndefined();
    expect(result.content).toContain('shipped');
    const stored = await conversation(res.body.conversation_id);
    expect(stored.body.messages.map((m: { role: string }) => m.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
    expect(stored.body.message_count).toBe(4);
    const calls = await db.query(`SELECT count(*)::int AS n FROM llm_calls WHERE conversation_id = $1`, [
      res.body.conversation_id,
    ]);
    expect(calls[0].n).toBe(2);
  });

  it('runs parallel tool calls concurrently and returns their results in the order the model asked', async () => {
    fake.enqueue(
      {
        toolUses: [
          { id: 'toolu_a', name: 'calculator', input: { expression: '6 * 7' } },
          { id: 'toolu_b', name: 'lookup_order', input: { order_number: '1002' } },
          { id: 'toolu_c', name: 'get_current_time', input: {} },
        ],
      },
      { text: 'Done.' },
    );
    const res = await chat({ message: 'Several things at once' });
    expect(res.status).toBe(200);
    expect(res.body.tools_used.map((u: { tool_name: string }) => u.tool_name)).toEqual([
      'calculator',
      'lookup_order',
      'get_current_time',
    ]);
    const results = fake.requests[1].body.messages[2].content as Array<{
      tool_use_id: string;
      content: string;
    }>;
    expect(results.map((r) => r.tool_use_id)).toEqual(['toolu_a', 'toolu_b', 'toolu_c']);
    expect(results[0].content).toContain('42');
  });

  it('turns a failing tool into an is_error result the model can recover from', async () => {
    fake.enqueue(
      {
        toolUses: [
          { id: 'toolu_missing', name: 'lookup_order', input: { order_number: '999999' } },
          { id: 'toolu_bad', name: 'calculator', input: { expr: '1+1' } },
          { id: 'toolu_unknown', name: 'launch_rocket', input: {} },
        ],
      },
      { text: 'I could not find that order.' },
    );
    const res = await chat({ message: 'Where is order 999999?' });
    expect(res.status).toBe(200);
    expect(res.body.tools_used.map((u: { is_error: boolean }) => u.is_error)).toEqual([true, true, true]);
    const results = fake.requests[1].body.messages[2].content as Array<{
      is_error?: boolean;
      content: string;
    }>;
    expect(results.every((r) => r.is_error === true)).toBe(true);
    expect(results[2].content).toMatch(/launch_rocket/);
    expect(res.body.response).toBe('I could not find that order.');
  });

  it('stops at max_iterations with every tool_use answered in the stored history', async () => {
    const created = await t.request('POST', '/v1/conversations', {
      json: { agent_name: 'support', max_iterations: 2 },
    });
    fake.respondWith((req) => ({
      toolUses: [
        { id: `toolu_loop_${req.seq}`, name: 'calculator', input: { expression: `${req.seq} + 1` } },
      ],
    }));
    const res = await chat({ message: 'Loop forever', conversation_id: created.body.id });
    expect(res.status).toBe(200);
    expect(res.body.stop_reason).toBe('max_iterations');
    expect(fake.requests).toHaveLength(2);
    const stored = await conversation(created.body.id);
    const blocks = stored.body.messages.flatMap((m: { content: unknown }) =>
      Array.isArray(m.content) ? m.content : [],
    );
    const uses = blocks
      .filter((b: { type: string }) => b.type === 'tool_use')
      .map((b: { id: string }) => b.id);
    const answered = blocks
      .filter((b: { type: string }) => b.type === 'tool_result')
      .map((b: { tool_use_id: string }) => b.tool_use_id);
    expect(uses).toHaveLength(2);
    expect(answered).toEqual(uses);
  });

  it('sends the stored history back to the model on a follow-up turn', async () => {
    fake.enqueue(
      { toolUses: [{ id: 'toolu_first', name: 'calculator', input: { expression: '2 + 2' } }] },
      { text: 'It is 4.' },
      { text: 'You asked about 2 + 2.' },
    );
    const first = await chat({ message: 'What is 2 + 2?' });
    const followUp = await chat({ message: 'What did I ask?', conversation_id: first.body.conversation_id });
    expect(followUp.status).toBe(200);
    const sent = fake.requests[2].body.messages;
    expect(sent).toEqual([
      { role: 'user', content: 'What is 2 + 2?' },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'toolu_first', name: 'calculator', input: { expression: '2 + 2' } },
        ],
      },
      {
        role: 'user',
        content: [expect.objectContaining({ type: 'tool_result', tool_use_id: 'toolu_first' })],
      },
      // The tail of the prompt cache: the last answer (see cache-breakpoints.ts).
      {
        role: 'assistant',
        content: [{ type: 'text', text: 'It is 4.', cache_control: { type: 'ephemeral' } }],
      },
      { role: 'user', content: 'What did I ask?' },
    ]);
    const stored = await conversation(first.body.conversation_id);
    expect(stored.body.message_count).toBe(6);
  });

  it.each([
    [{ status: 500 }, 502, 'upstream_error'],
    [{ status: 529 }, 502, 'upstream_error'],
    [{ status: 429, retryAfter: 7 }, 429, 'rate_limited'],
    [{ cutAfterEvents: 4, text: 'This answer will be cut off' }, 502, 'upstream_error'],
    [{ errorEventAfter: 3, text: 'This answer will fail' }, 502, 'upstream_error'],
  ])(
    'answers a provider failure %j with %i %s and leaves the history exactly as it was',
    async (reply, status, type) => {
      fake.enqueue({ text: 'First answer.' });
      const first = await chat({ message: 'Start' });
      const before = await conversation(first.body.conversation_id);
      fake.enqueue(
        {
          toolUses: [
            { id: `toolu_${randomUUID().slice(0, 8)}`, name: 'calculator', input: { expression: '1+1' } },
          ],
        },
        reply,
      );
      const res = await chat({ message: 'This turn fails', conversation_id: first.body.conversation_id });
      expect(res.status).toBe(status);
      expect(res.body.error.type).toBe(type);
      expect(JSON.stringify(res.body)).not.toMatch(/stack|at .*\.js|sk-ant/);
      if (status === 429) expect(res.headers.get('retry-after')).toBe('7');
      const after = await conversation(first.body.conversation_id);
      expect(after.body.messages).toEqual(before.body.messages);
      expect(after.body.message_count).toBe(before.body.message_count);
      // The model call that succeeded before the failure was billed, so usage still records it; so is the
      // failing call when the provider had started answering (an HTTP error before the stream bills nothing).
      const calls: Array<{ status: string }> = await db.query(
        `SELECT status FROM llm_calls WHERE conversation_id = $1 ORDER BY created_at`,
        [first.body.conversation_id],
      );
      const midStream = 'cutAfterEvents' in reply || 'errorEventAfter' in reply;
      expect(calls.map((c) => c.status)).toEqual(
        midStream ? ['completed', 'completed', 'failed'] : ['completed', 'completed'],
      );
    },
  );

  it('creates no conversation when the first turn of a new one fails', async () => {
    fake.enqueue({ status: 500 });
    const before = await t.request('GET', '/v1/conversations?page_size=100');
    const res = await chat({ message: 'Hello?' });
    expect(res.status).toBe(502);
    const after = await t.request('GET', '/v1/conversations?page_size=100');
    expect(after.body.total).toBe(before.body.total);
  });

  describe('Idempotency-Key', () => {
    it('returns the first answer to a retry without running the turn again', async () => {
      fake.enqueue({ text: 'Only once.' });
      const key = `key-${randomUUID()}`;
      const first = await chat({ message: 'Charge me once' }, { 'idempotency-key': key });
      const retry = await chat({ message: 'Charge me once' }, { 'idempotency-key': key });
      expect(retry.status).toBe(200);
      expect(retry.body).toEqual(first.body);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(fake.requests).toHaveLength(1);
      expect((await conversation(first.body.conversation_id)).body.message_count).toBe(2);
    });

    it('refuses the same key with a different body', async () => {
      fake.enqueue({ text: 'First.' });
      const key = `key-${randomUUID()}`;
      await chat({ message: 'One thing' }, { 'idempotency-key': key });
      const other = await chat({ message: 'Another thing' }, { 'idempotency-key': key });
      expect(other.status).toBe(400);
      expect(other.body.error.type).toBe('validation_error');
    });

    it('runs the turn again after a first attempt that failed', async () => {
      fake.enqueue({ status: 500 }, { text: 'Second time lucky.' });
      const key = `key-${randomUUID()}`;
      expect((await chat({ message: 'Try' }, { 'idempotency-key': key })).status).toBe(502);
      const retry = await chat({ message: 'Try' }, { 'idempotency-key': key });
      expect(retry.status).toBe(200);
      expect(retry.body.response).toBe('Second time lucky.');
    });

    it('keys are per tenant: another tenant with the same key runs its own turn', async () => {
      const other = await startTestApp({
        ANTHROPIC_API_KEY: 'sk-ant-test',
        ANTHROPIC_BASE_URL: fake.url,
        LLM_MAX_RETRIES: '0',
      });
      try {
        fake.enqueue({ text: 'Tenant A.' }, { text: 'Tenant B.' });
        const key = `key-${randomUUID()}`;
        const a = await chat({ message: 'Same' }, { 'idempotency-key': key });
        const b = await other.request('POST', '/v1/chat', {
          json: { message: 'Same' },
          headers: { 'idempotency-key': key },
        });
        expect(a.body.response).toBe('Tenant A.');
        expect(b.body.response).toBe('Tenant B.');
      } finally {
        await other.close();
      }
    });
  });

  it('answers 409 conversation_busy while another turn runs on the conversation', async () => {
    const gate = fake.gate();
    fake.enqueue({ text: 'Slow answer here', gate }, { text: 'Second' });
    const created = await t.request('POST', '/v1/conversations', { json: { agent_name: 'support' } });
    const running = chat({ message: 'first', conversation_id: created.body.id });
    while (!gate.isWaiting) await new Promise((r) => setTimeout(r, 5));
    const busy = await chat({ message: 'second', conversation_id: created.body.id });
    expect(busy.status).toBe(409);
    expect(busy.body.error.type).toBe('conversation_busy');
    expect(busy.body.error.message).toMatch(/running since \d{4}-\d{2}-\d{2}T/);
    gate.release();
    expect((await running).status).toBe(200);
    const next = await chat({ message: 'third', conversation_id: created.body.id });
    expect(next.status).toBe(200);
  });
});
