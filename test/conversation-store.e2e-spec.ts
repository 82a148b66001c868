// The conversation store on the real PostgreSQL: a turn is stored whole, in order, under its tenant, or not at all.
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { NotFoundError, RandomIdGenerator } from '@lib/core';
import { ConversationStore, ConversationTakenOverError, LlmCallRecord } from '@lib/conversations';
import type { ChatMessage } from '@lib/llm';
import { openTestDataSource } from './support/database';

describe('ConversationStore: turns and model calls', () => {
  let dataSource: DataSource;
  let store: ConversationStore;
  const tenant = `store-${randomUUID()}`;

  beforeAll(async () => {
    dataSource = await openTestDataSource();
    store = new ConversationStore(dataSource, new RandomIdGenerator());
  });
  afterAll(async () => {
    await dataSource.query(`DELETE FROM llm_calls WHERE tenant_id = $1`, [tenant]);
    await dataSource.query(`DELETE FROM conversations WHERE tenant_id = $1`, [tenant]);
    await dataSource.destroy();
  });

  const call = (over: Partial<LlmCallRecord> = {}): LlmCallRecord => ({
    model: 'claude-sonnet-4-6',
    input_tokens: 100,
    output_tokens: 10,
    cache_creation_input_tokens: 5,
    cache_read_input_tokens: 7,
    cost_usd: 0.00045,
    latency_ms: 12,
    time_to_first_token_ms: 3,
    stop_reason: 'end_turn',
    ...over,
  });

  it('stores messages in order after the existing ones, the model calls, and the totals, in one go', async () => {
    const id = randomUUID();
    await store.create(tenant, { id, agentName: 'support' });
    const awkward = `Quotes " and ' and back\\slash, {braces}, "NULL", ünïcödé and\nnew lines`;
    const first: ChatMessage[] = [
      { role: 'user', content: awkward },
      {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'toolu_1', name: 'calculator', input: { a: 1 } }],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '2' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Two.' }] },
    ];
    const taskId = randomUUID();
    const apiKeyId = randomUUID();
    const one = await store.appendTurn({
      tenantId: tenant,
      conversationId: id,
      agentName: 'support',
      messages: first,
      llmCalls: [
        call(),
        call({
          model: 'some-new-model',
          unknown_model_price: true,
          api_key_id: apiKeyId,
          task_id: taskId,
          time_to_first_token_ms: null,
        }),
      ],
    });
    expect(one.messageIds).toHaveLength(4);
    expect(one.costUsd).toBeCloseTo(0.0009, 10);
    const afterOne = await store.get(tenant, id);
    expect(afterOne).toMatchObject({
      id,
      messageCount: 4,
      inputTokens: 2 * 112,
      outputTokens: 20,
      costUsd: 0.0009,
      title: awkward.replace(/\s+/g, ' '),
    });
    expect(afterOne.lastMessageAt).toBeInstanceOf(Date);

    const two = await store.appendTurn({
      tenantId: tenant,
      conversationId: id,
      agentName: 'support',
      messages: [
        { role: 'user', content: 'And again?' },
        { role: 'assistant', content: [{ type: 'text', text: 'Again two.' }] },
      ],
      llmCalls: [call()],
    });
    expect(two.costUsd).toBeCloseTo(0.0009 + 0.00045, 10);
    expect(await store.get(tenant, id)).toMatchObject({
      messageCount: 6,
      outputTokens: 30,
      title: afterOne.title,
    });

    const stored = await store.messages(tenant, id);
    expect(stored.map((m) => m.id)).toEqual([...one.messageIds, ...two.messageIds]);
    expect(stored.map((m) => m.content)).toEqual([
      ...first.map((m) => m.content),
      'And again?',
      [{ type: 'text', text: 'Again two.' }],
    ]);
    const seqs: Array<{ seq: number }> = await dataSource.query(
      `SELECT seq FROM messages WHERE conversation_id = $1 ORDER BY seq`,
      [id],
    );
    expect(seqs.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5]);

    const calls: Array<Record<string, unknown>> = await dataSource.query(
      `SELECT model, agent_name, tenant_id, input_tokens, cache_read_input_tokens, cost_usd::float AS cost,
              time_to_first_token_ms, unknown_model_price, api_key_id, task_id
       FROM llm_calls WHERE conversation_id = $1 ORDER BY model`,
      [id],
    );
    expect(calls).toEqual([
      expect.objectContaining({ model: 'claude-sonnet-4-6', unknown_model_price: false, api_key_id: null }),
      expect.objectContaining({ model: 'claude-sonnet-4-6', time_to_first_token_ms: 3, task_id: null }),
      {
        model: 'some-new-model',
        agent_name: 'support',
        tenant_id: tenant,
        input_tokens: 100,
        cache_read_input_tokens: 7,
        cost: 0.00045,
        time_to_first_token_ms: null,
        unknown_model_price: true,
        api_key_id: apiKeyId,
        task_id: taskId,
      },
    ]);
  });

  it("writes nothing and answers NotFoundError for another tenant's conversation or a deleted one", async () => {
    const id = randomUUID();
    await store.create(tenant, { id, agentName: 'support' });
    const turn = {
      conversationId: id,
      agentName: 'support',
      messages: [{ role: 'user', content: 'Hello' } as ChatMessage],
      llmCalls: [call()],
    };
    await expect(store.appendTurn({ ...turn, tenantId: `other-${randomUUID()}` })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await store.delete(tenant, id);
    await expect(store.appendTurn({ ...turn, tenantId: tenant })).rejects.toBeInstanceOf(NotFoundError);
    const [counts]: Array<{ messages: number; calls: number }> = await dataSource.query(
      `SELECT (SELECT count(*)::int FROM messages WHERE conversation_id = $1) AS messages,
              (SELECT count(*)::int FROM llm_calls WHERE conversation_id = $1) AS calls`,
      [id],
    );
    expect(counts).toEqual({ messages: 0, calls: 0 });
  });

  it("records a failed turn's model calls on its conversation's totals, or on no conversation once it is gone", async () => {
    const id = randomUUID();
    await store.create(tenant, { id, agentName: 'support' });
    await store.recordOrphanCalls(tenant, id, 'support', [call(), call({ task_id: randomUUID() })]);
    expect(await store.get(tenant, id)).toMatchObject({
      messageCount: 0,
      inputTokens: 224,
      outputTokens: 20,
      costUsd: 0.0009,
    });
    expect(await store.messages(tenant, id)).toEqual([]);

    const gone = randomUUID();
    await store.recordOrphanCalls(tenant, gone, 'support', [call({ model: `orphan-${gone}` })]);
    await store.recordOrphanCalls(`other-${randomUUID()}`, id, 'support', [
      call({ model: `elsewhere-${gone}` }),
    ]);
    const rows: Array<{ model: string; conversation_id: string | null; tenant_id: string }> =
      await dataSource.query(
        `SELECT model, conversation_id, tenant_id FROM llm_calls WHERE model IN ($1, $2)`,
        [`orphan-${gone}`, `elsewhere-${gone}`],
      );
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.conversation_id === null)).toBe(true);
    // Another tenant's call never lands on this conversation's totals.
    expect((await store.get(tenant, id)).inputTokens).toBe(224);
    await dataSource.query(`DELETE FROM llm_calls WHERE model IN ($1, $2)`, [
      `orphan-${gone}`,
      `elsewhere-${gone}`,
    ]);
  });

  it('refuses a fenced append once a later lease has appended, and stores nothing of it', async () => {
    const id = randomUUID();
    await store.create(tenant, { id, agentName: 'support' });
    const turn = (text: string, fence?: number) => ({
      tenantId: tenant,
      conversationId: id,
      agentName: 'support',
      fence,
      messages: [{ role: 'user', content: text } as ChatMessage],
      llmCalls: [call({ model: `fenced-${id}` })],
    });
    await store.appendTurn(turn('From lease 7', 7));
    // The lease that held the conversation before 7 wakes up and writes: refused, whole.
    await expect(store.appendTurn(turn('From stale lease 5', 5))).rejects.toBeInstanceOf(
      ConversationTakenOverError,
    );
    // The same lease may append again, a later one too; an unfenced write is not checked.
    await store.appendTurn(turn('Lease 7 again', 7));
    await store.appendTurn(turn('From lease 9', 9));
    await store.appendTurn(turn('Unfenced'));
    await expect(store.appendTurn(turn('From lease 8', 8))).rejects.toBeInstanceOf(
      ConversationTakenOverError,
    );
    expect((await store.messages(tenant, id)).map((m) => m.content)).toEqual([
      'From lease 7',
      'Lease 7 again',
      'From lease 9',
      'Unfenced',
    ]);
    const [{ calls }]: Array<{ calls: number }> = await dataSource.query(
      `SELECT count(*)::int AS calls FROM llm_calls WHERE model = $1`,
      [`fenced-${id}`],
    );
    expect(calls).toBe(4);
    expect((await store.get(tenant, id)).messageCount).toBe(4);
    // A conversation that is gone is still not found, fenced or not.
    await store.delete(tenant, id);
    await expect(store.appendTurn(turn('Late', 9))).rejects.toBeInstanceOf(NotFoundError);
    await dataSource.query(`DELETE FROM llm_calls WHERE model = $1`, [`fenced-${id}`]);
  });

  it('records each call with how it ended', async () => {
    const id = randomUUID();
    await store.create(tenant, { id, agentName: 'support' });
    await store.appendTurn({
      tenantId: tenant,
      conversationId: id,
      agentName: 'support',
      messages: [{ role: 'user', content: 'Hello' }],
      llmCalls: [
        call({ status: 'failed', stop_reason: 'overloaded' }),
        call({ status: 'cancelled' }),
        call(),
      ],
    });
    const rows: Array<{ status: string }> = await dataSource.query(
      `SELECT status FROM llm_calls WHERE conversation_id = $1 ORDER BY status`,
      [id],
    );
    expect(rows.map((r) => r.status)).toEqual(['cancelled', 'completed', 'failed']);
  });

  it('numbers the messages of turns appended at the same moment one after the other', async () => {
    const id = randomUUID();
    await store.create(tenant, { id, agentName: 'support' });
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        store.appendTurn({
          tenantId: tenant,
          conversationId: id,
          agentName: 'support',
          messages: [
            { role: 'user', content: `Question ${i}` },
            { role: 'assistant', content: [{ type: 'text', text: `Answer ${i}` }] },
          ],
          llmCalls: [call()],
        }),
      ),
    );
    const rows: Array<{ seq: number; content: unknown }> = await dataSource.query(
      `SELECT seq, content FROM messages WHERE conversation_id = $1 ORDER BY seq`,
      [id],
    );
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    // Each turn's two messages stay together.
    for (let i = 0; i < 10; i += 2) {
      const question = String(rows[i].content);
      expect(rows[i + 1].content).toEqual([{ type: 'text', text: question.replace('Question', 'Answer') }]);
    }
    expect((await store.get(tenant, id)).messageCount).toBe(10);
  });
});
