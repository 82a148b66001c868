// A lost conversation lock is noticed: a renewal that finds the lock gone stops the run, and the final write is
// fenced, so a run whose lock expired can never write after another run took the conversation.
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import { ConversationLock } from '@lib/conversations';
import { FakeAnthropic } from './support/fake-anthropic';
import { startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';
import { connectSocket } from './support/socket';
import { TEST_REDIS_URL } from './support/test-env';

// Each test starts an app and runs turns on a shared, busy machine.
jest.setTimeout(20_000);

describe('conversation lock fencing', () => {
  let fake: FakeAnthropic;
  let db: DataSource;
  let redis: Redis;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    db = await openTestDataSource();
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterEach(async () => {
    fake.reset();
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  afterAll(async () => {
    await redis.quit();
    await db.destroy();
    await fake.stop();
  });

  const start = async (env: Record<string, string> = {}) => {
    const t = await startTestApp({
      ANTHROPIC_API_KEY: `sk-ant-fencing-${randomUUID()}`,
      ANTHROPIC_BASE_URL: fake.url,
      LLM_MAX_RETRIES: '0',
      ...env,
    });
    apps.push(t);
    return t;
  };
  const newConversation = async (t: TestApp): Promise<string> =>
    (await t.request('POST', '/v1/conversations', { json: { agent_name: 'support' } })).body.id;
  /** What happens when a lock's TTL runs out while its holder is stalled. */
  const expireLock = (conversationId: string) => redis.del(`conversation-lock:${conversationId}`);

  it('gives each lease of a conversation a greater fencing token, even after Redis forgot the counter', async () => {
    const t = await start();
    const lock = t.app.get(ConversationLock);
    const id = randomUUID();
    const fences: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const lease = await lock.acquire(id);
      fences.push(lease.fence);
      await lease.release();
    }
    await redis.del(`conversation-fence:${id}`);
    const afterLoss = await lock.acquire(id);
    fences.push(afterLoss.fence);
    await afterLoss.release();
    expect(fences.every((fence, i) => i === 0 || fence > fences[i - 1])).toBe(true);
    expect(afterLoss.lost.aborted).toBe(false);
  });

  it("refuses a stale run's final write after another run took the conversation, and still bills its call", async () => {
    const t = await start();
    const id = await newConversation(t);
    const gate = fake.gate();
    fake.enqueue(
      { text: 'The stale answer', gate, usage: { input_tokens: 1_000, output_tokens: 100 } },
      { text: 'The new answer', usage: { input_tokens: 2_000, output_tokens: 200 } },
    );
    const stale = t.request('POST', '/v1/chat', { json: { message: 'First', conversation_id: id } });
    await gate.reached;
    await expireLock(id);
    const fresh = await t.request('POST', '/v1/chat', { json: { message: 'Second', conversation_id: id } });
    expect(fresh.status).toBe(200);
    gate.release();
    const refused = await stale;
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({
      type: 'conversation_busy',
      message: expect.stringContaining('taken over by another turn'),
    });

    const stored = (await t.request('GET', `/v1/conversations/${id}`)).body;
    expect(stored.messages.map((m: { content: unknown }) => m.content)).toEqual([
      'Second',
      [{ type: 'text', text: 'The new answer' }],
    ]);
    // The stale run's call was made and billed: it is recorded, and counts on the conversation.
    const calls: Array<{ input_tokens: number; status: string }> = await db.query(
      `SELECT input_tokens, status FROM llm_calls WHERE conversation_id = $1 ORDER BY input_tokens`,
      [id],
    );
    expect(calls).toEqual([
      { input_tokens: 1_000, status: 'completed' },
      { input_tokens: 2_000, status: 'completed' },
    ]);
    expect(stored.cost_usd).toBeCloseTo((3_000 * 3 + 300 * 15) / 1e6, 8);
  });

  it('refuses a stale write as soon as another run took the conversation, before that run wrote anything', async () => {
    const t = await start();
    const id = await newConversation(t);
    const staleGate = fake.gate();
    const freshGate = fake.gate();
    fake.enqueue({ text: 'The stale answer', gate: staleGate }, { text: 'The new answer', gate: freshGate });
    const stale = t.request('POST', '/v1/chat', { json: { message: 'First', conversation_id: id } });
    await staleGate.reached;
    await expireLock(id);
    // The new run takes the conversation and is still waiting for the model when the stale one tries to write.
    const fresh = t.request('POST', '/v1/chat', { json: { message: 'Second', conversation_id: id } });
    await freshGate.reached;
    staleGate.release();
    const refused = await stale;
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain('taken over by another turn');
    freshGate.release();
    expect((await fresh).status).toBe(200);
    const stored = (await t.request('GET', `/v1/conversations/${id}`)).body;
    expect(stored.messages.map((m: { content: unknown }) => m.content)).toEqual([
      'Second',
      [{ type: 'text', text: 'The new answer' }],
    ]);
  });

  it('stops a run whose lock renewal finds the lock gone, as a cancel does', async () => {
    const t = await start({ CONVERSATION_LOCK_TTL_MS: '1000' });
    const id = await newConversation(t);
    const gate = fake.gate();
    fake.enqueue({ text: 'Never finished because the lock is lost', gate, usage: { input_tokens: 500 } });
    const s = await connectSocket(t.url, t.userKey);
    try {
      await s.call('message', { message: 'Go on', conversation_id: id });
      await s.waitFor((e) => e.name === 'text');
      await expireLock(id);
      // The next renewal (every third of the TTL) notices; no client cancelled anything.
      const done = await s.waitFor((e) => e.name === 'done', 3_000);
      expect(done.payload.stop_reason).toBe('cancelled');
      await fake.waitForAborts(1);
    } finally {
      gate.release();
      s.close();
    }
    // Nobody else wrote: the stopped turn is stored as a cancelled one, its call billed.
    const stored = (await t.request('GET', `/v1/conversations/${id}`)).body;
    expect(stored.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant']);
    const [call] = await db.query(`SELECT status, input_tokens FROM llm_calls WHERE conversation_id = $1`, [
      id,
    ]);
    expect(call).toEqual({ status: 'cancelled', input_tokens: 500 });
  });
});
