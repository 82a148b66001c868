// The built-in tools against the real test database and its demo data, through the registry the agent runner uses.
import { randomUUID } from 'node:crypto';
import { Test, TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { AppConfig, Clock } from '@lib/core';
import { BUILTIN_TOOL_NAMES, ToolContext, ToolOutcome, ToolRegistry, ToolsModule } from '@lib/tools';
import { openTestDataSource } from './support/database';

const NOW = new Date('2026-11-20T14:04:05.000Z');

class FixedClock extends Clock {
  now(): Date {
    return new Date(NOW);
  }
}

describe('built-in tools', () => {
  let dataSource: DataSource;
  let moduleRef: TestingModule;
  let registry: ToolRegistry;
  // Tickets are per tenant: a tenant of our own makes cleaning up exact and keeps other suites' rows apart.
  const tenantId = `tools-e2e-${randomUUID()}`;
  const otherTenantId = `tools-e2e-other-${randomUUID()}`;

  beforeAll(async () => {
    dataSource = await openTestDataSource();
    moduleRef = await Test.createTestingModule({
      imports: [
        {
          module: class TestInfrastructure {},
          global: true,
          providers: [
            { provide: DataSource, useValue: dataSource },
            { provide: AppConfig, useValue: Object.assign(new AppConfig(), { toolTimeoutMs: 5000 }) },
            { provide: Clock, useClass: FixedClock },
          ],
          exports: [DataSource, AppConfig, Clock],
        },
        ToolsModule,
      ],
    }).compile();
    registry = moduleRef.get(ToolRegistry);
  });

  /** Every tenant these tests made: their tickets, counters and copies of the demo data are removed. */
  const tenantsUsed = [tenantId, otherTenantId];
  const freshTenant = (label: string) => {
    const tenant = `tools-e2e-${label}-${randomUUID()}`;
    tenantsUsed.push(tenant);
    return tenant;
  };

  afterAll(async () => {
    for (const table of [
      'support_tickets',
      'support_ticket_counters',
      'kb_articles',
      'products',
      'pricing_plans',
      'orders',
      'demo_data_tenants',
    ]) {
      await dataSource.query(`DELETE FROM ${table} WHERE tenant_id = ANY($1)`, [tenantsUsed]);
    }
    await moduleRef.close();
    await dataSource.destroy();
  });

  function contextWith(overrides: Partial<ToolContext> = {}): ToolContext {
    return {
      tenantId,
      conversationId: randomUUID(),
      toolUseId: `toolu_${randomUUID().replace(/-/g, '')}`,
      signal: new AbortController().signal,
      ...overrides,
    };
  }

  async function run(name: string, input: unknown, context = contextWith()): Promise<ToolOutcome> {
    return registry.execute(name, input, context);
  }

  /** Runs a call that must succeed and returns its parsed JSON result. */
  async function result<T = Record<string, unknown>>(
    name: string,
    input: unknown,
    context?: ToolContext,
  ): Promise<T> {
    const outcome = await run(name, input, context);
    expect({ is_error: outcome.is_error, content: outcome.content }).toEqual({
      is_error: false,
      content: expect.any(String),
    });
    return JSON.parse(outcome.content) as T;
  }

  describe('the registry', () => {
    it('offers every built-in tool, sorted by name, each property described for the model', () => {
      const list = registry.list();
      expect(list.map((t) => t.name)).toEqual([...BUILTIN_TOOL_NAMES].sort());
      for (const spec of list) {
        expect(spec.description.length).toBeGreaterThan(80);
        expect(spec.input_schema).toMatchObject({ type: 'object', additionalProperties: false });
        const properties = spec.input_schema.properties as Record<string, { description?: string }>;
        for (const [property, schema] of Object.entries(properties)) {
          expect({ tool: spec.name, property, description: typeof schema.description }).toEqual({
            tool: spec.name,
            property,
            description: 'string',
          });
        }
      }
    });
  });

  describe('search_knowledge_base', () => {
    interface Hit {
      slug: string;
      title: string;
      snippet: string;
      body: string;
      tags: string[];
      score: number;
    }
    interface SearchResult {
      query: string;
      match: string;
      results: Hit[];
    }

    it('ranks the password article first for "reset my password"', async () => {
      const found = await result<SearchResult>('search_knowledge_base', { query: 'reset my password' });
      expect(found.match).toBe('all_words');
      expect(found.results[0]).toMatchObject({ slug: 'reset-password', title: 'How to reset your password' });
      expect(found.results[0].snippet).toContain('**password**');
      expect(found.results[0].body).toContain('Forgot password?');
      expect(found.results[0].tags).toEqual(['account', 'login', 'password']);
      expect(found.results[0].score).toBeGreaterThan(0);
    });

    it.each([
      ['how do I turn on 2FA', 'two-factor-authentication'],
      ['refund', 'refund-policy'],
      ['VAT on my invoice', 'invoices'],
      ['rotate api key', 'api-keys'],
      ['429 Retry-After', 'api-rate-limits'],
      ['SAML single sign-on', 'single-sign-on'],
      ['export my data as CSV', 'data-export'],
    ])('finds %j in %s', async (query, slug) => {
      const found = await result<SearchResult>('search_knowledge_base', { query });
      expect(found.results[0]?.slug).toBe(slug);
    });

    it('falls back to articles matching some of the words of a chatty question', async () => {
      const found = await result<SearchResult>('search_knowledge_base', {
        query: 'How many days does shipping to Canada usually take?',
      });
      expect(found.match).toBe('any_word');
      expect(found.results[0].slug).toBe('shipping-times');
    });

    it('orders results by score and honours the limit', async () => {
      const found = await result<SearchResult>('search_knowledge_base', {
        query: 'account or password',
        limit: 2,
      });
      expect(found.results).toHaveLength(2);
      expect(found.results[0].score).toBeGreaterThanOrEqual(found.results[1].score);
    });

    it('answers an empty list when nothing is relevant', async () => {
      const found = await result<SearchResult>('search_knowledge_base', { query: 'quantum chromodynamics' });
      expect(found.results).toEqual([]);
    });

    it('refuses a limit above 10', async () => {
      const outcome = await run('search_knowledge_base', { query: 'refund', limit: 11 });
      expect(outcome.is_error).toBe(true);
      expect(outcome.content).toContain('"limit" must be <= 10');
    });
  });

  describe('lookup_order', () => {
    it('returns a shipped order with its items, carrier and delivery estimate', async () => {
      const order = await result('lookup_order', { order_number: '1001' });
      expect(order).toEqual({
        order_number: '1001',
        status: 'shipped',
        status_description: expect.stringContaining('on its way'),
        customer_email: 'jane.doe@example.com',
        items: [
          { sku: 'HW-KB-101', name: 'Mechanical Keyboard Pro', quantity: 1, unit_price_usd: 129 },
          { sku: 'HW-MS-102', name: 'Wireless Ergonomic Mouse', quantity: 1, unit_price_usd: 59 },
        ],
        total_usd: 188,
        carrier: 'UPS',
        tracking_number: '1Z999AA10123456784',
        placed_at: '2026-11-16T09:12:00.000Z',
        shipped_at: '2026-11-17T15:40:00.000Z',
        estimated_delivery: '2026-11-21',
      });
    });

    it('accepts the number with a leading "#"', async () => {
      const order = await result('lookup_order', { order_number: '#1001' });
      expect(order.order_number).toBe('1001');
    });

    it('returns nulls for what an unshipped order does not have yet', async () => {
      const order = await result('lookup_order', { order_number: '1003' });
      expect(order).toMatchObject({
        status: 'processing',
        carrier: null,
        tracking_number: null,
        shipped_at: null,
      });
    });

    it('reports a missing order as an error result', async () => {
      const outcome = await run('lookup_order', { order_number: '9999' });
      expect(outcome.is_error).toBe(true);
      expect(outcome.content).toMatch(/^No order with number 9999\./);
    });

    it('refuses a malformed order number before querying', async () => {
      const outcome = await run('lookup_order', { order_number: 'ABC-1' });
      expect(outcome.is_error).toBe(true);
      expect(outcome.content).toContain('"order_number" must match pattern');
    });
  });

  describe('tenant scope of the demo data', () => {
    it("never returns another tenant's order: each tenant reads its own", async () => {
      const [owner, stranger] = [freshTenant('owner'), freshTenant('stranger')];
      // Each gets its own copy of the demo orders on first use.
      await result('lookup_order', { order_number: '1001' }, contextWith({ tenantId: owner }));
      await dataSource.query(
        `INSERT INTO orders (tenant_id, order_number, customer_email, status, items, total_usd, placed_at)
         VALUES ($1, '777001', 'vip@owner.example', 'placed', '[]', 10, now())`,
        [owner],
      );
      await dataSource.query(
        `UPDATE orders SET customer_email = 'changed@owner.example' WHERE tenant_id = $1 AND order_number = '1001'`,
        [owner],
      );
      const own = await result<{ customer_email: string }>(
        'lookup_order',
        { order_number: '777001' },
        contextWith({ tenantId: owner }),
      );
      expect(own.customer_email).toBe('vip@owner.example');

      const outcome = await run(
        'lookup_order',
        { order_number: '777001' },
        contextWith({ tenantId: stranger }),
      );
      expect(outcome).toMatchObject({
        is_error: true,
        content: expect.stringContaining('No order with number 777001'),
      });
      expect(outcome.content).not.toContain('vip@owner.example');
      const theirs = await result<{ customer_email: string }>(
        'lookup_order',
        { order_number: '1001' },
        contextWith({ tenantId: stranger }),
      );
      expect(theirs.customer_email).toBe('jane.doe@example.com');
    });

    it('gives a new tenant its own copy of every demo table once, on first use', async () => {
      const tenant = freshTenant('copy');
      const countOf = async (table: string) =>
        Number(
          (await dataSource.query(`SELECT count(*) AS n FROM ${table} WHERE tenant_id = $1`, [tenant]))[0].n,
        );
      expect(await countOf('orders')).toBe(0);
      await Promise.all([
        result('get_pricing', {}, contextWith({ tenantId: tenant })),
        result('search_knowledge_base', { query: 'password' }, contextWith({ tenantId: tenant })),
        result('get_product_catalog', {}, contextWith({ tenantId: tenant })),
      ]);
      for (const table of ['kb_articles', 'products', 'pricing_plans', 'orders']) {
        const template = Number(
          (await dataSource.query(`SELECT count(*) AS n FROM ${table} WHERE tenant_id = '_demo'`))[0].n,
        );
        expect([table, await countOf(table)]).toEqual([table, template]);
      }
      // Removing a product from the tenant's copy sticks: the copy is made once, not refilled.
      await dataSource.query(`DELETE FROM products WHERE tenant_id = $1 AND sku = 'HW-KB-101'`, [tenant]);
      const catalog = await result<{ products: Array<{ sku: string }> }>(
        'get_product_catalog',
        {},
        contextWith({ tenantId: tenant }),
      );
      expect(catalog.products.map((p) => p.sku)).not.toContain('HW-KB-101');
    });

    it('leaves a tenant an operator marked as done without any demo data', async () => {
      const tenant = freshTenant('none');
      await dataSource.query(`INSERT INTO demo_data_tenants (tenant_id) VALUES ($1)`, [tenant]);
      const outcome = await run('lookup_order', { order_number: '1001' }, contextWith({ tenantId: tenant }));
      expect(outcome.is_error).toBe(true);
      const plans = await run('get_pricing', { plan: 'team' }, contextWith({ tenantId: tenant }));
      expect(plans.is_error).toBe(true);
    });
  });

  describe('create_support_ticket', () => {
    const ticketsOf = (tenant: string, toolUseId: string) =>
      dataSource.query<Array<Record<string, unknown>>>(
        `SELECT * FROM support_tickets WHERE tenant_id = $1 AND tool_use_id = $2`,
        [tenant, toolUseId],
      );

    it('opens a ticket for the tenant, conversation, task and tool call', async () => {
      const context = contextWith({ taskId: randomUUID() });
      const ticket = await result(
        'create_support_ticket',
        {
          subject: 'Order 1001 arrived with a broken keyboard',
          description:
            'The keycaps of the keyboard from order 1001 are cracked; the customer wants a replacement.',
          priority: 'high',
          customer_email: 'jane.doe@example.com',
        },
        context,
      );
      expect(ticket).toEqual({
        ticket_number: expect.stringMatching(/^TCK-\d{6}$/),
        status: 'open',
        priority: 'high',
        subject: 'Order 1001 arrived with a broken keyboard',
        customer_email: 'jane.doe@example.com',
        created_at: expect.any(String),
        created: true,
      });
      const rows = await ticketsOf(tenantId, context.toolUseId);
      expect(rows).toEqual([
        expect.objectContaining({
          ticket_number: ticket.ticket_number,
          tenant_id: tenantId,
          conversation_id: context.conversationId,
          task_id: context.taskId,
          tool_use_id: context.toolUseId,
          priority: 'high',
          status: 'open',
        }),
      ]);
    });

    it('returns the same ticket when the same task re-runs the same tool call', async () => {
      const context = contextWith({ taskId: randomUUID() });
      const input = {
        subject: 'Refund not received',
        description: 'Refund for order 1006 not visible after 12 days.',
      };
      const first = await result('create_support_ticket', input, context);
      const again = await result('create_support_ticket', input, {
        ...context,
        signal: new AbortController().signal,
      });
      expect(again).toEqual({ ...first, created: false });
      expect(await ticketsOf(tenantId, context.toolUseId)).toHaveLength(1);
    });

    it('stays idempotent for a tool call outside a task', async () => {
      const context = contextWith();
      const input = { subject: 'Wants a human', description: 'The customer asked to talk to a person.' };
      const first = await result('create_support_ticket', input, context);
      const again = await result('create_support_ticket', input, context);
      expect(again.ticket_number).toBe(first.ticket_number);
      expect(first).toMatchObject({ priority: 'normal', customer_email: null });
      expect(await ticketsOf(tenantId, context.toolUseId)).toHaveLength(1);
    });

    it('opens one ticket when the same call runs twice at once', async () => {
      const context = contextWith({ taskId: randomUUID() });
      const input = { subject: 'Double submit', description: 'Concurrent re-run of one tool call.' };
      const [a, b] = await Promise.all([
        result('create_support_ticket', input, context),
        result('create_support_ticket', input, context),
      ]);
      expect(a.ticket_number).toBe(b.ticket_number);
      expect([a.created, b.created].sort()).toEqual([false, true]);
      expect(await ticketsOf(tenantId, context.toolUseId)).toHaveLength(1);
    });

    it('opens separate tickets for another tool call, another task or another tenant', async () => {
      const context = contextWith({ taskId: randomUUID() });
      const input = { subject: 'Same words', description: 'Identical content, different calls.' };
      const numbers = [
        (await result('create_support_ticket', input, context)).ticket_number,
        (await result('create_support_ticket', input, { ...context, toolUseId: `${context.toolUseId}b` }))
          .ticket_number,
        (await result('create_support_ticket', input, { ...context, taskId: randomUUID() })).ticket_number,
      ];
      expect(new Set(numbers).size).toBe(3);
      const elsewhere = await result<{ created: boolean }>('create_support_ticket', input, {
        ...context,
        tenantId: otherTenantId,
      });
      expect(elsewhere.created).toBe(true);
    });

    it('numbers tickets per tenant, so no tenant learns how many tickets the others open', async () => {
      const [first, second] = [freshTenant('numbers-a'), freshTenant('numbers-b')];
      const input = { subject: 'Numbering', description: 'Which number do I get?' };
      const open = async (tenant: string) =>
        (
          await result<{ ticket_number: string }>(
            'create_support_ticket',
            input,
            contextWith({ tenantId: tenant }),
          )
        ).ticket_number;
      expect(await open(first)).toBe('TCK-000100');
      expect(await open(first)).toBe('TCK-000101');
      expect(await open(second)).toBe('TCK-000100');
      // Many at once still get distinct, consecutive numbers.
      const burst = await Promise.all(Array.from({ length: 8 }, () => open(first)));
      expect([...burst].sort()).toEqual(
        Array.from({ length: 8 }, (_, i) => `TCK-${String(102 + i).padStart(6, '0')}`),
      );
    });

    it('refuses a malformed email and an unknown priority', async () => {
      const outcome = await run('create_support_ticket', {
        subject: 'Bad input',
        description: 'x',
        priority: 'asap',
        customer_email: 'not an email',
      });
      expect(outcome.is_error).toBe(true);
      expect(outcome.content).toContain('"priority" must be one of "low", "normal", "high", "urgent"');
      expect(outcome.content).toContain('"customer_email" must match pattern');
    });
  });

  describe('get_product_catalog', () => {
    interface Catalog {
      products: Array<{ sku: string; name: string; category: string; price_usd: number }>;
      count: number;
      categories: string[];
    }

    it('lists every active product, and not the discontinued one', async () => {
      const catalog = await result<Catalog>('get_product_catalog', {});
      expect(catalog.count).toBe(8);
      expect(catalog.products.map((p) => p.sku)).not.toContain('HW-MS-099');
      expect(catalog.categories).toEqual(['add-ons', 'audio-video', 'peripherals']);
    });

    it('filters by category, case-insensitively', async () => {
      const catalog = await result<Catalog>('get_product_catalog', { category: 'Audio-Video' });
      expect(catalog.products).toEqual([
        expect.objectContaining({ sku: 'HW-CM-201', name: '4K Webcam', price_usd: 149 }),
        expect.objectContaining({ sku: 'HW-HS-202', name: 'Noise-Cancelling Headset', price_usd: 219 }),
      ]);
    });

    it('finds products by words, including plurals and SKUs', async () => {
      const keyboards = await result<Catalog>('get_product_catalog', { query: 'keyboards' });
      expect(keyboards.products.map((p) => p.sku)).toEqual(['HW-KB-101']);
      const bySku = await result<Catalog>('get_product_catalog', { query: 'sw-bk' });
      expect(bySku.products.map((p) => p.sku)).toEqual(['SW-BK-301']);
      const both = await result<Catalog>('get_product_catalog', { category: 'add-ons', query: 'backups' });
      expect(both.products.map((p) => p.sku)).toEqual(['SW-BK-301']);
    });

    it('treats LIKE wildcards in the query as text', async () => {
      const catalog = await result<Catalog>('get_product_catalog', { query: '%' });
      expect(catalog.count).toBe(0);
    });
  });

  describe('get_pricing', () => {
    interface Quote {
      available: boolean;
      total_usd?: number;
      extra_seats?: number;
      period?: string;
      reason?: string;
    }
    interface Pricing {
      plans: Array<{ plan: string; quote?: Quote }>;
      cheapest_plan_for_seats?: string | null;
    }

    it('lists every plan without a quote when no seats are given', async () => {
      const pricing = await result<Pricing>('get_pricing', {});
      expect(pricing.plans.map((p) => p.plan)).toEqual(['starter', 'team', 'business', 'enterprise']);
      expect(pricing.plans[0]).toMatchObject({ monthly_price_usd: 29, seats_included: 3, max_seats: 10 });
      expect(pricing.plans[0].quote).toBeUndefined();
    });

    it('prices extra seats beyond those included, monthly', async () => {
      const pricing = await result<Pricing>('get_pricing', { plan: 'Team', seats: 12 });
      expect(pricing.plans).toHaveLength(1);
      expect(pricing.plans[0].quote).toEqual({
        seats: 12,
        billing: 'monthly',
        available: true,
        base_price_usd: 99,
        extra_seats: 2,
        extra_seat_price_usd: 9,
        extra_seats_cost_usd: 18,
        total_usd: 117,
        period: 'month',
      });
    });

    it('prices annual billing per year', async () => {
      const pricing = await result<Pricing>('get_pricing', {
        plan: 'business',
        seats: 40,
        billing: 'annual',
      });
      expect(pricing.plans[0].quote).toMatchObject({
        total_usd: 2990 + 15 * 80,
        extra_seats: 15,
        period: 'year',
      });
    });

    it('charges no extra seats below the included number', async () => {
      const pricing = await result<Pricing>('get_pricing', { plan: 'enterprise', seats: 1 });
      expect(pricing.plans[0].quote).toMatchObject({ total_usd: 999, extra_seats: 0 });
    });

    it('marks plans that cannot have that many seats and names the cheapest that can', async () => {
      const pricing = await result<Pricing>('get_pricing', { seats: 11 });
      const byPlan = Object.fromEntries(pricing.plans.map((p) => [p.plan, p.quote]));
      expect(byPlan.starter).toEqual({
        seats: 11,
        billing: 'monthly',
        available: false,
        reason: 'The Starter plan allows at most 10 seats.',
      });
      expect(byPlan.team).toMatchObject({ total_usd: 108 });
      expect(pricing.cheapest_plan_for_seats).toBe('team');
      const small = await result<Pricing>('get_pricing', { seats: 5 });
      expect(small.cheapest_plan_for_seats).toBe('starter');
    });

    it('reports an unknown plan with the plans there are', async () => {
      const outcome = await run('get_pricing', { plan: 'platinum' });
      expect(outcome).toMatchObject({
        is_error: true,
        content: 'No plan named "platinum". Available plans: starter, team, business, enterprise.',
      });
    });

    it('refuses a fractional number of seats', async () => {
      const outcome = await run('get_pricing', { seats: 2.5 });
      expect(outcome.is_error).toBe(true);
      expect(outcome.content).toContain('"seats" must be an integer (got 2.5)');
    });
  });

  describe('calculator', () => {
    it('evaluates an expression', async () => {
      expect(await result('calculator', { expression: '(99 + 2 * 9) * 12' })).toEqual({
        expression: '(99 + 2 * 9) * 12',
        result: 1404,
      });
    });

    it('reports a mistake with its position', async () => {
      const outcome = await run('calculator', { expression: '10 / (5 - 5)' });
      expect(outcome).toMatchObject({
        is_error: true,
        content: 'Cannot evaluate the expression: Division by zero at position 4.',
      });
    });
  });

  describe('get_current_time', () => {
    it('tells the time in UTC by default', async () => {
      expect(await result('get_current_time', {})).toEqual({
        timezone: 'UTC',
        local_time: '2026-11-20T14:04:05+00:00',
        utc_time: '2026-11-20T14:04:05.000Z',
        date: '2026-11-20',
        time: '14:04:05',
        weekday: 'Friday',
        utc_offset: '+00:00',
        formatted: expect.stringContaining('Friday, November 20, 2026'),
      });
    });

    it('tells the time in a named time zone, from the injected clock', async () => {
      const paris = await result('get_current_time', { timezone: 'Europe/Paris' });
      expect(paris).toMatchObject({ local_time: '2026-11-20T15:04:05+01:00', utc_offset: '+01:00' });
      const kolkata = await result('get_current_time', { timezone: 'Asia/Kolkata' });
      expect(kolkata).toMatchObject({ time: '19:34:05', utc_offset: '+05:30' });
      const auckland = await result('get_current_time', { timezone: 'Pacific/Auckland' });
      expect(auckland).toMatchObject({ date: '2026-11-21', weekday: 'Saturday', utc_offset: '+13:00' });
    });

    it('reports an unknown time zone', async () => {
      const outcome = await run('get_current_time', { timezone: 'Mars/Olympus_Mons' });
      expect(outcome.is_error).toBe(true);
      expect(outcome.content).toContain('Unknown time zone "Mars/Olympus_Mons"');
    });
  });
});
