// Cost per model call (cache tokens priced apart, configured prices, unknown models flagged), its sums on
// conversations and tasks, and GET /v1/usage, whose sums must equal the llm_calls rows.
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { cachedUsage, FakeAnthropic } from './support/fake-anthropic';
import { startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';
import { removeQueueKeys, testQueuePrefix, waitForStatus } from './support/tasks';

const prefix = testQueuePrefix('cost-usage');

describe('cost and usage', () => {
  let fake: FakeAnthropic;
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    t = await startTestApp({
      ANTHROPIC_API_KEY: `sk-ant-cost-${randomUUID()}`,
      ANTHROPIC_BASE_URL: fake.url,
      LLM_MAX_RETRIES: '0',
      QUEUE_PREFIX: prefix,
      MODEL_PRICES_JSON: JSON.stringify({
        'claude-haiku-4-5': { input: 2, output: 4, cache_write: 2.5, cache_read: 0.2 },
      }),
      UNKNOWN_MODEL_PRICE_JSON: JSON.stringify({ input: 10, output: 50, cache_write: 12.5, cache_read: 1 }),
    });
    db = await openTestDataSource();
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await db.destroy();
    await t.close();
    await fake.stop();
    await removeQueueKeys(prefix);
  });

  const chat = (json: unknown, key?: string) => t.request('POST', '/v1/chat', { json, key });
  const calls = (conversationId: string) =>
    db.query(`SELECT * FROM llm_calls WHERE conversation_id = $1 ORDER BY created_at`, [conversationId]);

  describe('cost per call', () => {
    it('prices uncached input, output, cache writes and cache reads each at their own rate', async () => {
      fake.enqueue({
        text: 'Cached answer.',
        usage: cachedUsage({ input: 1_000, output: 200, cacheWrite: 4_000, cacheRead: 20_000 }),
      });
      const res = await chat({ message: 'Cache me' });
      // claude-sonnet-4-6: 3 in, 15 out, 3.75 cache write, 0.3 cache read per million tokens.
      const expected = (1_000 * 3 + 200 * 15 + 4_000 * 3.75 + 20_000 * 0.3) / 1e6;
      expect(expected).toBeCloseTo(0.027, 10);
      expect(res.body).toMatchObject({ input_tokens: 25_000, output_tokens: 200, total_tokens: 25_200 });
      expect(res.body.cost_usd).toBeCloseTo(expected, 10);
      const [row] = await calls(res.body.conversation_id);
      expect(row).toMatchObject({
        input_tokens: 1_000,
        cache_creation_input_tokens: 4_000,
        cache_read_input_tokens: 20_000,
        unknown_model_price: false,
        api_key_id: t.userKeyId,
      });
      expect(Number(row.cost_usd)).toBeCloseTo(expected, 10);
    });

    it('sums a conversation over its turns, and puts the cost on the SSE done event', async () => {
      fake.enqueue({ text: 'One.', usage: { input_tokens: 100, output_tokens: 10 } });
      const first = await chat({ message: 'First' });
      fake.enqueue({ text: 'Two.', usage: { input_tokens: 200, output_tokens: 20 } });
      const response = await fetch(`${t.url}/v1/chat/stream`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.userKey}` },
        body: JSON.stringify({ message: 'Second', conversation_id: first.body.conversation_id }),
      });
      const done = JSON.parse(/event: done\ndata: (.*)/.exec(await response.text())![1]);
      expect(done.cost_usd).toBeCloseTo((200 * 3 + 20 * 15) / 1e6, 10);
      const stored = await t.request('GET', `/v1/conversations/${first.body.conversation_id}`);
      expect(stored.body.cost_usd).toBeCloseTo((300 * 3 + 30 * 15) / 1e6, 10);
    });

    it('uses a price from MODEL_PRICES_JSON, matching a dated model id to its family', async () => {
      fake.enqueue({
        text: 'Haiku.',
        model: 'claude-haiku-4-5-20251001',
        usage: { input_tokens: 1_000, output_tokens: 100 },
      });
      const res = await chat({ message: 'Cheap one' });
      expect(res.body.cost_usd).toBeCloseTo((1_000 * 2 + 100 * 4) / 1e6, 10);
    });

    it('costs a model the table does not know at UNKNOWN_MODEL_PRICE_JSON and flags the call', async () => {
      fake.enqueue({
        text: 'New model.',
        model: 'claude-mystery-9',
        usage: { input_tokens: 1_000, output_tokens: 100 },
      });
      const res = await chat({ message: 'Unknown' });
      expect(res.body.cost_usd).toBeCloseTo((1_000 * 10 + 100 * 50) / 1e6, 10);
      const [row] = await calls(res.body.conversation_id);
      expect(row).toMatchObject({ model: 'claude-mystery-9', unknown_model_price: true });
    });

    it('sums a task over its calls, and records the task on each call', async () => {
      fake.enqueue(
        {
          toolUses: [{ name: 'calculator', input: { expression: '6*7' } }],
          usage: { input_tokens: 300, output_tokens: 30 },
        },
        { text: 'It is 42.', usage: { input_tokens: 400, output_tokens: 40 } },
      );
      const created = await t.request('POST', '/v1/tasks', {
        json: { agent_name: 'support', instruction: 'What is 6*7?' },
      });
      const task = await waitForStatus((id) => t.request('GET', `/v1/tasks/${id}`), created.body.task_id, [
        'completed',
        'failed',
      ]);
      expect(task.status).toBe('completed');
      const rows = await db.query(`SELECT cost_usd FROM llm_calls WHERE task_id = $1`, [task.task_id]);
      expect(rows).toHaveLength(2);
      const sum = rows.reduce((n: number, r: { cost_usd: string }) => n + Number(r.cost_usd), 0);
      expect(task.cost_usd).toBeCloseTo(sum, 10);
      expect(task.cost_usd).toBeCloseTo((700 * 3 + 70 * 15) / 1e6, 10);
    });
  });

  describe('GET /v1/usage', () => {
    beforeAll(async () => {
      // A turn with the admin key too, so grouping by key has two rows.
      fake.enqueue({ text: 'Admin.', usage: { input_tokens: 50, output_tokens: 5 } });
      await chat({ message: 'From the admin key' }, t.adminKey);
      fake.enqueue({ text: 'Sales.', usage: { input_tokens: 70, output_tokens: 7 } });
      await chat({ message: 'A sales question', agent_name: 'sales' });
    });

    const usage = (query: string, key?: string) => t.request('GET', `/v1/usage?${query}`, { key });

    async function truth(group: string): Promise<Map<string | null, Record<string, number>>> {
      const rows = await db.query(
        `SELECT ${group} AS key, count(*)::int AS requests,
           sum(input_tokens + cache_creation_input_tokens + cache_read_input_tokens)::int AS input_tokens,
           sum(output_tokens)::int AS output_tokens, sum(cost_usd) AS cost_usd
         FROM llm_calls WHERE tenant_id = $1 GROUP BY 1`,
        [t.tenantId],
      );
      return new Map(
        rows.map((r: Record<string, any>) => [
          r.key,
          {
            requests: r.requests,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cost_usd: Number(r.cost_usd),
          },
        ]),
      );
    }

    it.each([
      ['agent', 'agent_name'],
      ['conversation', 'conversation_id::text'],
      ['day', `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`],
      ['api_key', 'api_key_id::text'],
    ])('sums by %s exactly as the llm_calls rows do', async (group, column) => {
      const res = await usage(`group_by=${group}`);
      expect(res.status).toBe(200);
      const expected = await truth(column);
      expect(res.body.rows).toHaveLength(expected.size);
      for (const row of res.body.rows) {
        const want = expected.get(row.key)!;
        expect(want).toBeDefined();
        expect(row).toMatchObject({
          requests: want.requests,
          input_tokens: want.input_tokens,
          output_tokens: want.output_tokens,
        });
        expect(row.cost_usd).toBeCloseTo(want.cost_usd, 10);
      }
      const total = [...expected.values()].reduce((n, r) => n + r.cost_usd, 0);
      expect(res.body.total_cost_usd).toBeCloseTo(total, 10);
      expect(res.body.rows.reduce((n: number, r: { cost_usd: number }) => n + r.cost_usd, 0)).toBeCloseTo(
        total,
        10,
      );
    });

    it('names the keys that made the calls', async () => {
      const res = await usage('group_by=api_key');
      expect(res.body.rows.map((r: { key: string }) => r.key)).toEqual(
        expect.arrayContaining([t.userKeyId, t.adminKeyId]),
      );
      const agents = await usage('group_by=agent');
      expect(agents.body.rows.map((r: { key: string }) => r.key).sort()).toEqual(['sales', 'support']);
    });

    it('keeps to the date range, a date naming the whole UTC day', async () => {
      const today = new Date().toISOString().slice(0, 10);
      const all = await usage('group_by=day');
      const todayOnly = await usage(`group_by=day&from=${today}&to=${today}`);
      expect(todayOnly.body).toEqual(all.body);
      const past = await usage('group_by=day&from=2020-01-01&to=2020-01-31');
      expect(past.body).toEqual({ rows: [], total_cost_usd: 0 });
      const future = await usage(`group_by=agent&from=${new Date(Date.now() + 3_600_000).toISOString()}`);
      expect(future.body.total_cost_usd).toBe(0);
    });

    it('is scoped to the tenant; an admin may name a tenant, a user key may not', async () => {
      const other = await usage(`group_by=agent&tenant=test-${randomUUID()}`, t.adminKey);
      expect(other.status).toBe(200);
      expect(other.body).toEqual({ rows: [], total_cost_usd: 0 });
      const own = await usage(`group_by=agent&tenant=${t.tenantId}`, t.adminKey);
      expect(own.body).toEqual((await usage('group_by=agent')).body);
      const forbidden = await usage(`group_by=agent&tenant=${t.tenantId}`);
      expect(forbidden.status).toBe(403);
      expect(forbidden.body.error.type).toBe('forbidden');
    });

    it.each([
      ['', 'group_by'],
      ['group_by=model', 'group_by'],
      ['group_by=day&from=yesterday', 'from'],
      ['group_by=day&from=2026-02-01&to=2026-01-01', 'from'],
    ])('answers 400 to "%s"', async (query, field) => {
      const res = await usage(query);
      expect(res.status).toBe(400);
      expect(res.body.error.type).toBe('validation_error');
      expect(res.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    });
  });
});
