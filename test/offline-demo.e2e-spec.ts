// Without ANTHROPIC_API_KEY the offline demo model answers: it calls the real built-in tools and labels itself.
import { startTestApp, TestApp, removeTenantData } from './support/app';
import { openTestDataSource } from './support/database';

describe('the offline demo model (no ANTHROPIC_API_KEY)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ ANTHROPIC_API_KEY: undefined });
  });

  afterAll(async () => {
    await t.close();
  });

  it('answers "Where is order 1001?" after a real lookup_order call, stored in PostgreSQL', async () => {
    const res = await t.request('POST', '/v1/chat', { json: { message: 'Where is order 1001?' } });
    expect(res.status).toBe(200);
    expect(res.body.tools_used).toEqual([
      expect.objectContaining({
        tool_name: 'lookup_order',
        arguments: { order_number: '1001' },
        is_error: false,
      }),
    ]);
    expect(res.body.response).toContain('[offline-demo]');
    expect(res.body.response).toMatch(/shipped/i);
    expect(res.body.stop_reason).toBe('end_turn');
    expect(res.body.cost_usd).toBe(0);

    const stored = await t.request('GET', `/v1/conversations/${res.body.conversation_id}`);
    const blocks = stored.body.messages.flatMap((m: { content: unknown }) =>
      Array.isArray(m.content) ? m.content : [],
    );
    expect(blocks).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'tool_use', name: 'lookup_order', input: { order_number: '1001' } }),
        expect.objectContaining({
          type: 'tool_result',
          content: expect.stringContaining('"order_number":"1001"'),
        }),
      ]),
    );
  });

  it("answers from the caller's tenant's own demo data: another tenant's order is unknown", async () => {
    const db = await openTestDataSource();
    const otherTenant = `${t.tenantId}-other`;
    try {
      // The app's tenant has its copy of the demo orders (the turn above made it); give it one more, of its own.
      await db.query(
        `INSERT INTO orders (tenant_id, order_number, customer_email, status, items, total_usd, placed_at)
         VALUES ($1, '880001', 'ceo@tenant-a.example', 'shipped', '[]', 10, now())`,
        [t.tenantId],
      );
      const issued = await t.request('POST', '/v1/admin/api-keys', {
        json: { tenant: otherTenant, role: 'user', name: 'other tenant' },
        key: t.adminKey,
      });
      expect(issued.status).toBe(201);
      const theirs = await t.request('POST', '/v1/chat', {
        json: { message: 'Where is order 880001?' },
        key: issued.body.key,
      });
      expect(theirs.status).toBe(200);
      expect(theirs.body.tools_used).toEqual([
        expect.objectContaining({ tool_name: 'lookup_order', is_error: true }),
      ]);
      expect(JSON.stringify(theirs.body)).not.toContain('ceo@tenant-a.example');
      const ours = await t.request('POST', '/v1/chat', { json: { message: 'Where is order 880001?' } });
      expect(ours.body.tools_used).toEqual([expect.objectContaining({ is_error: false })]);
    } finally {
      await db.destroy();
      await removeTenantData(otherTenant);
    }
  });

  it('searches the knowledge base for a how-to question', async () => {
    const res = await t.request('POST', '/v1/chat', {
      json: { message: 'How do I reset my password?' },
    });
    expect(res.body.tools_used.map((u: { tool_name: string }) => u.tool_name)).toEqual([
      'search_knowledge_base',
    ]);
    expect(res.body.response.toLowerCase()).toContain('password');
  });

  it('uses the calculator for arithmetic', async () => {
    const res = await t.request('POST', '/v1/chat', { json: { message: 'What is 12 * (3 + 4)?' } });
    expect(res.body.tools_used).toEqual([expect.objectContaining({ tool_name: 'calculator' })]);
    expect(res.body.response).toContain('84');
  });

  it('names itself offline-demo as the model of every agent', async () => {
    const res = await t.request('GET', '/v1/agents');
    expect(res.body.every((a: { model: string }) => a.model === 'offline-demo')).toBe(true);
  });
});
