// Without ANTHROPIC_API_KEY the offline demo model answers: it calls the real built-in tools and labels itself.
// Each answer below is checked against what the tools returned (read back from the stored conversation) or
// against the demo tables themselves, so the answers are shown to come from the tools.
import type { DataSource } from 'typeorm';
import { removeTenantData, startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';

interface ToolUse {
  tool_name: string;
  arguments: Record<string, unknown>;
  is_error: boolean;
}

describe('the offline demo model (no ANTHROPIC_API_KEY)', () => {
  let t: TestApp;

  let db: DataSource;

  beforeAll(async () => {
    t = await startTestApp({ ANTHROPIC_API_KEY: undefined });
    db = await openTestDataSource();
  });

  afterAll(async () => {
    await db.destroy();
    await t.close();
  });

  /** One REST turn; the answer, the tools it used and their results as stored in PostgreSQL. */
  async function ask(message: string, agentName?: string) {
    const res = await t.request('POST', '/v1/chat', {
      json: agentName ? { message, agent_name: agentName } : { message },
    });
    expect(res.status).toBe(200);
    const stored = await t.request('GET', `/v1/conversations/${res.body.conversation_id}`);
    const results = stored.body.messages
      .flatMap((m: { content: unknown }) => (Array.isArray(m.content) ? m.content : []))
      .filter((b: { type: string }) => b.type === 'tool_result')
      .map((b: { content: string }) => JSON.parse(b.content));
    return {
      response: res.body.response as string,
      tools: (res.body.tools_used as ToolUse[]).map((u) => u.tool_name),
      toolsUsed: res.body.tools_used as ToolUse[],
      results: results as any[],
      body: res.body,
    };
  }

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

  describe('the questions a trial user types', () => {
    it('answers "What is your refund policy?" with the text of the refund article', async () => {
      const [article] = await db.query(`SELECT title, body FROM kb_articles WHERE slug = 'refund-policy'`);
      const turn = await ask('What is your refund policy?');
      expect(turn.tools).toEqual(['search_knowledge_base']);
      expect(turn.results[0].results[0].title).toBe(article.title);
      expect(turn.response).toContain(`From the knowledge base article "${article.title}"`);
      expect(turn.response).toContain(article.body);
      expect(turn.body.stop_reason).toBe('end_turn');
    });

    it.each([
      ['How long does shipping take?', 'shipping-times'],
      ['Tell me about two-factor authentication', 'two-factor-authentication'],
      ['How do I download my invoices?', 'invoices'],
    ])('answers %j from the knowledge base article %s', async (question, slug) => {
      const [article] = await db.query(`SELECT title, body FROM kb_articles WHERE slug = $1`, [slug]);
      const turn = await ask(question);
      expect(turn.tools).toEqual(['search_knowledge_base']);
      expect(turn.response).toContain(article.title);
      expect(turn.response).toContain(article.body);
    });

    it('looks order 1002 up, then opens a ticket with its facts: two tool iterations', async () => {
      const turn = await ask('create a ticket: my order 1002 arrived broken');
      expect(turn.toolsUsed).toEqual([
        expect.objectContaining({
          tool_name: 'lookup_order',
          arguments: { order_number: '1002' },
          is_error: false,
        }),
        expect.objectContaining({ tool_name: 'create_support_ticket', is_error: false }),
      ]);
      const [order, ticket] = turn.results;
      const [row] = await db.query(
        `SELECT ticket_number, subject, description, customer_email FROM support_tickets WHERE tenant_id = $1`,
        [t.tenantId],
      );
      expect(row.ticket_number).toBe(ticket.ticket_number);
      expect(row.subject).toBe('My order 1002 arrived broken');
      expect(row.customer_email).toBe(order.customer_email);
      expect(row.description).toContain(`Order 1002: status ${order.status}`);
      expect(row.description).toContain(order.items[0].name);

      expect(turn.response).toContain(`Order 1002 is ${order.status}`);
      expect(turn.response).toContain(`I opened support ticket ${row.ticket_number}`);
      expect(turn.response).toContain(`follow up by email at ${order.customer_email}`);
      expect(turn.body.stop_reason).toBe('end_turn');
    });

    it('streams the ticket turn over SSE like the real model: text deltas around both tool calls', async () => {
      const response = await fetch(`${t.url}/v1/chat/stream`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.userKey}` },
        body: JSON.stringify({ message: 'create a ticket: my order 1003 is late' }),
      });
      expect(response.status).toBe(200);
      const events = [...(await response.text()).matchAll(/^event: (.*)$/gm)].map((m) => m[1]);
      const calls = events.filter((e) => e === 'tool_start');
      expect(calls).toHaveLength(2);
      expect(events.filter((e) => e === 'text').length).toBeGreaterThan(6);
      expect(events.indexOf('text')).toBeLessThan(events.indexOf('tool_start'));
      expect(events[events.length - 1]).toBe('done');
    });

    it('works out "what is 17% of 2350" with the calculator', async () => {
      const turn = await ask('what is 17% of 2350');
      expect(turn.toolsUsed).toEqual([
        expect.objectContaining({ tool_name: 'calculator', arguments: { expression: '17 / 100 * 2350' } }),
      ]);
      expect(turn.response).toContain(`17% of 2350 is ${turn.results[0].result}`);
      expect(turn.results[0].result).toBe(399.5);
    });

    it('compares the plans of the pricing table (sales agent)', async () => {
      const turn = await ask('compare your plans', 'sales');
      // The tenant's own copy of the pricing table, made on its first use of a demo tool.
      const plans = await db.query(
        `SELECT name, monthly_price_usd, features FROM pricing_plans WHERE tenant_id = $1 ORDER BY sort_order`,
        [t.tenantId],
      );
      expect(plans.length).toBeGreaterThan(1);
      expect(turn.tools).toEqual(['get_pricing']);
      expect(turn.response).toContain(`Here are our ${plans.length} plans side by side`);
      for (const plan of plans) {
        expect(turn.response).toContain(
          `- ${plan.name}: $${Number(plan.monthly_price_usd).toFixed(2)}/month`,
        );
        expect(turn.response).toContain(plan.features[plan.features.length - 1]);
      }
    });

    it('quotes "how much for 12 seats" from the pricing tool, naming the cheapest plan (sales agent)', async () => {
      const turn = await ask('how much for 12 seats', 'sales');
      expect(turn.toolsUsed).toEqual([
        expect.objectContaining({ tool_name: 'get_pricing', arguments: { seats: 12 } }),
      ]);
      const pricing = turn.results[0];
      const cheapest = pricing.plans.find(
        (p: { plan: string }) => p.plan === pricing.cheapest_plan_for_seats,
      );
      expect(turn.response).toContain(
        `For 12 seats, billed monthly, the cheapest plan is ${cheapest.name} at $${cheapest.quote.total_usd.toFixed(2)}/month`,
      );
      for (const plan of pricing.plans) expect(turn.response).toContain(`- ${plan.name}: `);
    });

    it('sends a pricing question put to the support agent, which has no pricing tool, to the sales agent', async () => {
      const turn = await ask('how much for 12 seats');
      expect(turn.tools).toEqual([]);
      expect(turn.response).toContain('"agent_name": "sales"');
    });

    it('tells "what time is it" from the clock tool', async () => {
      const turn = await ask('what time is it');
      expect(turn.tools).toEqual(['get_current_time']);
      const time = turn.results[0];
      expect(turn.response).toContain(`It is ${time.formatted} in ${time.timezone} (${time.local_time}).`);
      expect(Math.abs(Date.parse(time.utc_time) - Date.now())).toBeLessThan(60_000);
    });

    it('lists "what products do you sell" from the catalogue, every product on sale with its price', async () => {
      const turn = await ask('what products do you sell');
      const products = await db.query(
        `SELECT name, price_usd FROM products WHERE active AND tenant_id = $1`,
        [t.tenantId],
      );
      expect(products.length).toBeGreaterThan(1);
      expect(turn.tools).toEqual(['get_product_catalog']);
      expect(turn.response).toContain(`We sell ${products.length} products`);
      for (const product of products) {
        expect(turn.response).toContain(`${product.name} (`);
        expect(turn.response).toContain(`$${Number(product.price_usd).toFixed(2)}`);
      }
    });
  });
});
