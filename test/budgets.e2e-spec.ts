// Budgets that cannot be overshot: a per-conversation cost ceiling that stops a runaway tool loop before the
// call that would pass it, and a tenant's daily budget that holds under parallel turns and tasks, then answers 402.
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { FakeAnthropic, FakeRequestBody } from './support/fake-anthropic';
import { startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';
import { removeQueueKeys, testQueuePrefix, waitUntil } from './support/tasks';

/** Every call of these tests costs this much at claude-sonnet-4-6 prices: 5000 × 3 + 500 × 15 per million. */
const USAGE = { input_tokens: 5_000, output_tokens: 500 };
const CALL_USD = (5_000 * 3 + 500 * 15) / 1e6;

/** A model that never stops calling a tool: the runaway loop a cost ceiling exists for. */
const runaway = () => ({
  toolUses: [{ name: 'calculator', input: { expression: '1+1' } }],
  usage: USAGE,
  firstByteDelayMs: 20,
});

/** A tool call on a new question, an answer once the tool's result is back: two calls per turn. */
function twoCallTurn(body: FakeRequestBody) {
  const last = body.messages.at(-1);
  return typeof last?.content === 'string'
    ? runaway()
    : { text: 'Done.', usage: USAGE, firstByteDelayMs: 20 };
}

async function costOf(db: DataSource, tenantId: string): Promise<{ cost: number; calls: number }> {
  const [row] = await db.query(
    `SELECT COALESCE(sum(cost_usd), 0) AS cost, count(*)::int AS calls FROM llm_calls WHERE tenant_id = $1`,
    [tenantId],
  );
  return { cost: Number(row.cost), calls: row.calls };
}

describe('cost budgets', () => {
  let fake: FakeAnthropic;
  let db: DataSource;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    db = await openTestDataSource();
  });
  afterEach(async () => {
    fake.reset();
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  afterAll(async () => {
    await db.destroy();
    await fake.stop();
  });

  const start = async (env: Record<string, string> = {}) => {
    const t = await startTestApp({
      ANTHROPIC_API_KEY: `sk-ant-budgets-${randomUUID()}`,
      ANTHROPIC_BASE_URL: fake.url,
      LLM_MAX_RETRIES: '0',
      ...env,
    });
    apps.push(t);
    return t;
  };

  describe('the conversation cost ceiling', () => {
    it('stops a runaway tool loop with cost_limit before the call that would pass the ceiling', async () => {
      fake.respondWith(runaway);
      const t = await start();
      const created = await t.request('POST', '/v1/conversations', {
        json: { agent_name: 'support', max_iterations: 25, cost_limit_usd: 0.1 },
      });
      expect(created.status).toBe(201);
      expect(created.body.cost_limit_usd).toBe(0.1);
      const id = created.body.id;

      const res = await t.request('POST', '/v1/chat', {
        json: { message: 'Add forever', conversation_id: id },
      });
      expect(res.status).toBe(200);
      expect(res.body.stop_reason).toBe('cost_limit');
      const calls = fake.requests.length;
      // Stopped by the ceiling, long before max_iterations.
      expect(calls).toBeGreaterThanOrEqual(2);
      expect(calls).toBeLessThan(10);
      expect(res.body.cost_usd).toBeCloseTo(calls * CALL_USD, 8);

      const stored = await t.request('GET', `/v1/conversations/${id}`);
      expect(stored.body.cost_usd).toBeCloseTo(calls * CALL_USD, 8);
      // Never overshot: the ceiling held although each call's cost was only known after it was made.
      expect(stored.body.cost_usd).toBeLessThanOrEqual(0.1);
      // Every tool_use kept its tool_result: the history stays valid for the provider.
      expect(stored.body.messages.at(-1)).toMatchObject({ role: 'user', content: [{ type: 'tool_result' }] });

      // The next turn's first call does not fit either: 402 before anything runs.
      const next = await t.request('POST', '/v1/chat', { json: { message: 'More', conversation_id: id } });
      expect(next.status).toBe(402);
      expect(next.body.error).toMatchObject({
        type: 'budget_exceeded',
        message: expect.stringContaining('cost ceiling of 0.1 USD'),
      });
      expect(fake.requests).toHaveLength(calls);
      // The refused turn leaves no run: the conversation lists only the run that reached its ceiling.
      const runs = await t.request('GET', `/v1/conversations/${id}/runs`);
      expect(runs.status).toBe(200);
      expect(runs.body.runs.map((r: { run_id: string }) => r.run_id)).toEqual([res.body.run_id]);
    });

    it('is never overshot by CJK and emoji text, even counted by a tokenizer that makes a token of every byte', async () => {
      // The worst a byte-level tokenizer can do: one token per UTF-8 byte of the prompt. A CJK character is one
      // UTF-16 unit and three bytes, an emoji two units and four bytes: a characters-per-token estimate
      // reserves a third of what such a call costs.
      fake.respondWith((request) => ({
        toolUses: [{ name: 'calculator', input: { expression: '1+1' } }],
        usage: {
          input_tokens: Buffer.byteLength(
            JSON.stringify([request.body.system ?? '', request.body.messages, request.body.tools ?? []]),
          ),
          output_tokens: 20,
        },
      }));
      const t = await start();
      // Each call costs about 0.098 USD (32.5 KB of prompt) and reserves about 0.154 (the prompt's bytes at the
      // cache-write price, 2,048 output tokens): two calls fit, a third would not. Reserving a token per three
      // characters (about 0.051) would have let a third call through, to about 0.294 USD.
      const ceiling = 0.27;
      const created = await t.request('POST', '/v1/conversations', {
        json: { agent_name: 'support', max_iterations: 25, cost_limit_usd: ceiling },
      });
      expect(created.status).toBe(201);
      const message = '订单状态🚚'.repeat(1_600);
      expect(message.length).toBeLessThanOrEqual(10_000);

      const res = await t.request('POST', '/v1/chat', {
        json: { message, conversation_id: created.body.id },
      });
      expect(res.status).toBe(200);
      expect(res.body.stop_reason).toBe('cost_limit');
      expect(fake.requests.length).toBeGreaterThanOrEqual(2);
      const stored = await t.request('GET', `/v1/conversations/${created.body.id}`);
      expect(stored.body.cost_usd).toBeGreaterThan(ceiling / 2);
      expect(stored.body.cost_usd).toBeLessThanOrEqual(ceiling);
      expect((await costOf(db, t.tenantId)).cost).toBeLessThanOrEqual(ceiling);
    });

    it('applies CONVERSATION_COST_LIMIT_USD to conversations that set no ceiling of their own', async () => {
      fake.respondWith(runaway);
      const t = await start({ CONVERSATION_COST_LIMIT_USD: '0.08' });
      const res = await t.request('POST', '/v1/chat', { json: { message: 'Add forever' } });
      expect(res.status).toBe(200);
      expect(res.body.stop_reason).toBe('cost_limit');
      expect(res.body.cost_usd).toBeLessThanOrEqual(0.08);
      const unlimited = await t.request('POST', '/v1/conversations', {
        json: { agent_name: 'support', cost_limit_usd: 0 },
        key: t.adminKey,
      });
      expect(unlimited.body.cost_limit_usd).toBe(0);
    });

    it('ships a default ceiling of 5 USD: a conversation that set none answers 402 once it has cost that', async () => {
      // One call the provider bills 5.1 USD for (1.7 million input tokens): only possible with a prompt that large,
      // scripted here so the default ceiling is reached in one turn.
      fake.respondWith(() => ({
        text: 'A long answer.',
        usage: { input_tokens: 1_700_000, output_tokens: 10 },
      }));
      const t = await start();
      const created = await t.request('POST', '/v1/conversations', { json: { agent_name: 'support' } });
      expect(created.body.cost_limit_usd).toBeNull();
      const first = await t.request('POST', '/v1/chat', {
        json: { message: 'Hello', conversation_id: created.body.id },
      });
      expect(first.status).toBe(200);
      const next = await t.request('POST', '/v1/chat', {
        json: { message: 'And?', conversation_id: created.body.id },
      });
      expect(next.status).toBe(402);
      expect(next.body.error.message).toContain('cost ceiling of 5 USD');
    });

    describe('who may set a conversation its own ceiling', () => {
      const create = (t: TestApp, cost_limit_usd: unknown, key?: string) =>
        t.request('POST', '/v1/conversations', { json: { agent_name: 'support', cost_limit_usd }, key });

      it('lets a user key lower the deployment ceiling, or keep it by leaving the field out or null', async () => {
        const t = await start({ CONVERSATION_COST_LIMIT_USD: '2' });
        for (const [value, stored] of [
          [0.5, 0.5],
          [2, 2],
          [null, null],
          [undefined, null],
        ]) {
          const res = await create(t, value);
          expect(res.status).toBe(201);
          expect(res.body.cost_limit_usd).toBe(stored);
        }
      });

      it.each([
        ['raise it', 2.5, 'never raise it'],
        ['turn it off', 0, 'may not remove the ceiling'],
      ])(
        'refuses a user key that tries to %s, with 400 naming cost_limit_usd',
        async (_what, value, message) => {
          const t = await start({ CONVERSATION_COST_LIMIT_USD: '2' });
          const res = await create(t, value);
          expect(res.status).toBe(400);
          expect(res.body.error).toMatchObject({
            type: 'validation_error',
            details: [{ field: 'cost_limit_usd', message: expect.stringContaining(message) }],
          });
          const list = await t.request('GET', '/v1/conversations');
          expect(list.body.total).toBe(0);
        },
      );

      it('refuses a user key 0 even when the deployment has no ceiling', async () => {
        const t = await start({ CONVERSATION_COST_LIMIT_USD: '0' });
        expect((await create(t, 0)).status).toBe(400);
        expect((await create(t, 50)).status).toBe(201);
      });

      it('lets an admin key raise the ceiling or remove it', async () => {
        const t = await start({ CONVERSATION_COST_LIMIT_USD: '2' });
        const raised = await create(t, 25, t.adminKey);
        expect(raised.status).toBe(201);
        expect(raised.body.cost_limit_usd).toBe(25);
        const removed = await create(t, 0, t.adminKey);
        expect(removed.status).toBe(201);
        expect(removed.body.cost_limit_usd).toBe(0);
      });
    });

    it('answers 402 budget_exceeded when the ceiling has no room for a first call', async () => {
      fake.respondWith(runaway);
      const t = await start();
      const created = await t.request('POST', '/v1/conversations', {
        json: { agent_name: 'support', cost_limit_usd: 0.001 },
      });
      const res = await t.request('POST', '/v1/chat', {
        json: { message: 'Hello', conversation_id: created.body.id },
      });
      expect(res.status).toBe(402);
      expect(res.body.error.type).toBe('budget_exceeded');
      expect(fake.requests).toHaveLength(0);
    });

    it('refuses a malformed ceiling', async () => {
      const t = await start();
      const res = await t.request('POST', '/v1/conversations', {
        json: { agent_name: 'support', cost_limit_usd: -1 },
      });
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([expect.objectContaining({ field: 'cost_limit_usd' })]);
    });
  });

  describe('the tenant daily budget', () => {
    it('is never overshot by parallel turns and tasks, then answers 402 for new turns and tasks', async () => {
      fake.respondWith((request) => twoCallTurn(request.body));
      const prefix = testQueuePrefix('budgets');
      // Room for a few calls: each reserves about 0.06 USD (the prompt's bytes, 2,048 output tokens) and costs 0.0225.
      const budget = 0.2;
      const t = await start({ TENANT_DAILY_BUDGET_USD: String(budget), QUEUE_PREFIX: prefix });
      try {
        const turns = Array.from({ length: 8 }, (_, i) =>
          t.request('POST', '/v1/chat', { json: { message: `Question ${i}` } }),
        );
        const tasks = Array.from({ length: 2 }, (_, i) =>
          t.request('POST', '/v1/tasks', { json: { agent_name: 'support', instruction: `Task ${i}` } }),
        );
        const answers = await Promise.all(turns);
        const created = await Promise.all(tasks);
        for (const answer of answers) {
          expect([200, 402]).toContain(answer.status);
          if (answer.status === 402) expect(answer.body.error.type).toBe('budget_exceeded');
        }
        for (const task of created) expect([202, 402]).toContain(task.status);
        const taskIds = created.filter((c) => c.status === 202).map((c) => c.body.task_id);
        for (const id of taskIds) {
          await waitUntil(
            () => t.request('GET', `/v1/tasks/${id}`),
            (r) => ['completed', 'failed', 'cancelled'].includes(r.body.status),
            10_000,
          );
        }
        // Not every turn and task could run in full: the budget, not the provider, stopped them.
        const stopped =
          answers.filter((a) => a.status === 402 || a.body.stop_reason === 'cost_limit').length +
          created.filter((c) => c.status === 402).length;
        expect(stopped).toBeGreaterThan(0);
        expect((await costOf(db, t.tenantId)).cost).toBeLessThanOrEqual(budget);

        // Spend what is left, one turn at a time, until a new turn is refused.
        let refused = false;
        for (let i = 0; i < 10 && !refused; i += 1) {
          const res = await t.request('POST', '/v1/chat', { json: { message: `Later ${i}` } });
          expect([200, 402]).toContain(res.status);
          refused = res.status === 402;
        }
        expect(refused).toBe(true);
        const spent = await costOf(db, t.tenantId);
        expect(spent.cost).toBeLessThanOrEqual(budget);
        expect(spent.cost).toBeGreaterThan(budget / 2);

        const chat = await t.request('POST', '/v1/chat', { json: { message: 'One more' } });
        expect(chat.status).toBe(402);
        expect(chat.body.error).toEqual({
          type: 'budget_exceeded',
          message: 'The daily budget of 0.2 USD for this tenant is spent; it renews at 00:00 UTC.',
          request_id: expect.any(String),
        });
        const retryAfter = Number(chat.headers.get('retry-after'));
        expect(retryAfter).toBeGreaterThan(0);
        expect(retryAfter).toBeLessThanOrEqual(86_400);
        const task = await t.request('POST', '/v1/tasks', {
          json: { agent_name: 'support', instruction: 'One more task' },
        });
        expect(task.status).toBe(402);
        expect(task.body.error.type).toBe('budget_exceeded');
        expect((await costOf(db, t.tenantId)).calls).toBe(spent.calls);
      } finally {
        await removeQueueKeys(prefix);
      }
    });
  });
});
