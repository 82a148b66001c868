import { AppConfig } from '@lib/core';
import type { ChatMessage } from './content';
import type { LlmRequest, LlmResult, LlmStreamEvent, ToolSpec } from './llm-client';
import { LlmError } from './llm-error';
import { OfflineLlmClient } from './offline-llm-client';

const tool = (name: string): ToolSpec => ({ name, description: name, input_schema: { type: 'object' } });
const SUPPORT_TOOLS = [
  'search_knowledge_base',
  'lookup_order',
  'create_support_ticket',
  'get_product_catalog',
  'calculator',
  'get_current_time',
].map(tool);
const ALL_TOOLS = [...SUPPORT_TOOLS, tool('get_pricing')];

function offlineClient(paceMs = 0): OfflineLlmClient {
  return new OfflineLlmClient(Object.assign(new AppConfig(), { offlineModelPaceMs: paceMs }));
}

function request(messages: ChatMessage[], overrides: Partial<LlmRequest> = {}): LlmRequest {
  return {
    model: 'offline-demo',
    system: 'You are a helpful support agent.',
    messages,
    tools: ALL_TOOLS,
    temperature: 0.3,
    maxTokens: 1024,
    ...overrides,
  };
}

const ask = (text: string, overrides: Partial<LlmRequest> = {}): LlmRequest =>
  request([{ role: 'user', content: text }], overrides);

async function collect(
  events: AsyncIterable<LlmStreamEvent>,
): Promise<{ texts: string[]; result: LlmResult }> {
  const texts: string[] = [];
  let result: LlmResult | undefined;
  for await (const event of events) {
    if (event.type === 'text') texts.push(event.text);
    else if (event.type === 'result') result = event.result;
  }
  if (!result) throw new Error('the stream ended without a result');
  return { texts, result };
}

function textOf(result: LlmResult): string {
  return result.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
}

/** A conversation in which the model asked for `name` with `input` and the tool answered `content`. */
function afterTool(
  name: string,
  input: Record<string, unknown>,
  content: string,
  isError = false,
): ChatMessage[] {
  return [
    { role: 'user', content: 'question' },
    {
      role: 'assistant',
      content: [
        { type: 'text', text: '[offline-demo] Let me check.' },
        { type: 'tool_use', id: 'toolu_offline_0001_1', name, input },
      ],
    },
    {
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 'toolu_offline_0001_1', content, is_error: isError }],
    },
  ];
}

interface Call {
  name: string;
  input: Record<string, unknown>;
  /** The tool's answer: an object (sent as JSON, as the registry does) or an error message. */
  returned: Record<string, unknown> | string;
}

/** A turn in which the model asked the question's tools one after the other and each answered. */
function turnAfter(question: string, ...calls: Call[]): ChatMessage[] {
  const messages: ChatMessage[] = [{ role: 'user', content: question }];
  calls.forEach((call, i) => {
    const id = `toolu_offline_${i}`;
    messages.push(
      {
        role: 'assistant',
        content: [
          { type: 'text', text: '[offline-demo] Let me check.' },
          { type: 'tool_use', id, name: call.name, input: call.input },
        ],
      },
      {
        role: 'user',
        content: [
          typeof call.returned === 'string'
            ? { type: 'tool_result', tool_use_id: id, content: call.returned, is_error: true }
            : { type: 'tool_result', tool_use_id: id, content: JSON.stringify(call.returned) },
        ],
      },
    );
  });
  return messages;
}

async function answer(messages: ChatMessage[], tools = ALL_TOOLS): Promise<LlmResult> {
  return (await collect(offlineClient().stream(request(messages, { tools })))).result;
}

// Tool results as the built-in tools shape them, with values that are not the demo data's: every fact in an
// answer must come from the result.
const ORDER = {
  order_number: '4242',
  status: 'delivered',
  status_description: 'The carrier reported the order as delivered.',
  customer_email: 'ada@example.org',
  items: [{ sku: 'HW-X-1', name: 'Brass Telescope', quantity: 2, unit_price_usd: 310.5 }],
  total_usd: 621,
  carrier: 'Pigeon Post',
  tracking_number: 'PP-77',
  placed_at: '2031-03-01T10:00:00.000Z',
  shipped_at: '2031-03-02T09:00:00.000Z',
  estimated_delivery: '2031-03-05',
};
const TICKET = {
  ticket_number: 'TCK-31337',
  status: 'open',
  priority: 'normal',
  subject: 'My order 4242 arrived broken',
  customer_email: 'ada@example.org',
  created_at: '2031-03-06T08:00:00.000Z',
  created: true,
};
const ARTICLE = {
  slug: 'refunds',
  title: 'Refunds for telescope owners',
  snippet: 'Refunds within **45 days**',
  body: 'Telescopes are refunded within 45 days when the lens cap is returned. Refunds take 3 days.',
  tags: ['billing'],
  score: 0.9,
};
const PLANS = {
  currency: 'USD',
  plans: [
    {
      plan: 'solo',
      name: 'Solo',
      monthly_price_usd: 11,
      annual_price_usd: 110,
      seats_included: 1,
      max_seats: 5,
      extra_seat_monthly_usd: 4,
      extra_seat_annual_usd: 40,
      features: ['Night mode', 'Star maps'],
    },
    {
      plan: 'observatory',
      name: 'Observatory',
      monthly_price_usd: 500,
      annual_price_usd: 5000,
      seats_included: 10,
      max_seats: null,
      extra_seat_monthly_usd: 3.5,
      extra_seat_annual_usd: 35,
      features: ['Dome control'],
    },
  ],
};

describe('OfflineLlmClient', () => {
  it('names itself offline-demo whatever model is asked for', async () => {
    const client = offlineClient();
    expect(client.kind).toBe('offline-demo');
    expect(client.modelFor('claude-sonnet-4-5')).toBe('offline-demo');
    const { result } = await collect(client.stream(ask('Hello', { model: 'claude-sonnet-4-5' })));
    expect(result.model).toBe('offline-demo');
  });

  it.each([
    ['Where is order 1001?', '1001'],
    ['Can you check order #1002 for me', '1002'],
    ['what about order number 1003', '1003'],
  ])('asks lookup_order for the order number in %j', async (question, orderNumber) => {
    const { result } = await collect(offlineClient().stream(ask(question)));
    expect(result.stop_reason).toBe('tool_use');
    expect(result.content[1]).toEqual({
      type: 'tool_use',
      id: expect.stringMatching(/^toolu_offline_/),
      name: 'lookup_order',
      input: { order_number: orderNumber },
    });
  });

  it('asks the calculator to evaluate an arithmetic expression', async () => {
    const { result } = await collect(offlineClient().stream(ask('What is 12 * (3 + 4)?')));
    expect(result.content[1]).toMatchObject({ name: 'calculator', input: { expression: '12 * (3 + 4)' } });
  });

  it.each([
    ['How do I reset my password?', 'reset my password'],
    ['how to export my invoices', 'export my invoices'],
    ['How can I change the billing address?', 'change the billing address'],
  ])('searches the knowledge base for the how-to question %j', async (question, query) => {
    const { result } = await collect(offlineClient().stream(ask(question)));
    expect(result.content[1]).toMatchObject({ name: 'search_knowledge_base', input: { query } });
  });

  it('says it is about to use the tool, in a labelled text block before the tool_use', async () => {
    const { result } = await collect(offlineClient().stream(ask('Where is order 1001?')));
    expect(result.content[0]).toEqual({
      type: 'text',
      text: '[offline-demo] Let me look up order 1001.\n\n',
    });
  });

  it('does not call a tool the request does not offer, and answers in plain text instead', async () => {
    const { result } = await collect(
      offlineClient().stream(ask('Where is order 1001?', { tools: [tool('calculator')] })),
    );
    expect(result.stop_reason).toBe('end_turn');
    expect(result.content).toHaveLength(1);
    expect(textOf(result)).toContain('Where is order 1001?');
  });

  it('answers anything else honestly as the offline demo model, echoing the message', async () => {
    const { result } = await collect(offlineClient().stream(ask('Tell me a joke about databases')));
    const text = textOf(result);
    expect(text.startsWith('[offline-demo] ')).toBe(true);
    expect(text).toContain('offline demo model');
    expect(text).toContain('does not come from Claude');
    expect(text).toContain('"Tell me a joke about databases"');
    expect(result.stop_reason).toBe('end_turn');
  });

  it('says it cannot see images or documents, and answers from the text of the message', async () => {
    const { result } = await collect(
      offlineClient().stream(
        request([
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Where is order 1001?' },
              { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
              {
                type: 'document',
                source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' },
              },
            ],
          },
        ]),
      ),
    );
    expect(textOf(result)).toContain('I cannot see images or documents (2 attached)');
    expect(result.content).toContainEqual(
      expect.objectContaining({ type: 'tool_use', name: 'lookup_order', input: { order_number: '1001' } }),
    );
  });

  describe('what a trial user types', () => {
    it.each<[string, string, Record<string, unknown>]>([
      ['What is your refund policy?', 'search_knowledge_base', { query: 'refund policy' }],
      ['Tell me about shipping to Canada', 'search_knowledge_base', { query: 'shipping canada' }],
      ['create a ticket: my order 1002 arrived broken', 'lookup_order', { order_number: '1002' }],
      ['what is 17% of 2350', 'calculator', { expression: '17 / 100 * 2350' }],
      ['What is 15 percent of 1,200?', 'calculator', { expression: '15 / 100 * 1200' }],
      ['compare your plans', 'get_pricing', {}],
      ['how much for 12 seats', 'get_pricing', { seats: 12 }],
      ['How much for 30 users billed annually?', 'get_pricing', { seats: 30, billing: 'annual' }],
      ['what time is it', 'get_current_time', {}],
      ['What time is it in Europe/Paris?', 'get_current_time', { timezone: 'Europe/Paris' }],
      ['what products do you sell', 'get_product_catalog', {}],
      ['Do you sell keyboards?', 'get_product_catalog', { query: 'keyboards' }],
    ])('answers %j by calling %s first', async (question, name, input) => {
      const result = await answer([{ role: 'user', content: question }]);
      expect(result.stop_reason).toBe('tool_use');
      expect(result.content[1]).toEqual({ type: 'tool_use', id: expect.any(String), name, input });
      expect(textOf(result)).toMatch(/^\[offline-demo\] Let me /);
    });

    it('quotes the best knowledge base article in full, and names the others', async () => {
      const related = { ...ARTICLE, title: 'Returning a telescope', body: 'Return it boxed.' };
      const result = await answer(
        turnAfter('What is your refund policy?', {
          name: 'search_knowledge_base',
          input: { query: 'refund policy' },
          returned: { query: 'refund policy', match: 'all_words', results: [ARTICLE, related] },
        }),
      );
      expect(result.stop_reason).toBe('end_turn');
      expect(textOf(result)).toBe(
        '[offline-demo] From the knowledge base article "Refunds for telescope owners":\n\n' +
          'Telescopes are refunded within 45 days when the lens cap is returned. Refunds take 3 days.\n\n' +
          'Related articles: "Returning a telescope".',
      );
    });

    it('says when the article only matches some of the words, and when nothing matched', async () => {
      const partial = await answer(
        turnAfter('Tell me about lens refunds', {
          name: 'search_knowledge_base',
          input: { query: 'lens refunds' },
          returned: { query: 'lens refunds', match: 'any_word', results: [ARTICLE] },
        }),
      );
      expect(textOf(partial)).toContain(
        'No knowledge base article matches every word of "lens refunds"; the closest one is "Refunds for telescope owners":',
      );
      const none = await answer(
        turnAfter('What about comets?', {
          name: 'search_knowledge_base',
          input: { query: 'comets' },
          returned: { query: 'comets', match: 'all_words', results: [] },
        }),
      );
      expect(textOf(none)).toBe(
        '[offline-demo] The knowledge base has no article about "comets", so I cannot answer that from it.',
      );
    });

    it('opens a ticket after looking the order up, with the facts and the email the lookup returned', async () => {
      const question = 'create a ticket: my order 4242 arrived broken';
      const result = await answer(
        turnAfter(question, { name: 'lookup_order', input: { order_number: '4242' }, returned: ORDER }),
      );
      expect(result.stop_reason).toBe('tool_use');
      const use = result.content[1];
      expect(use).toMatchObject({ type: 'tool_use', name: 'create_support_ticket' });
      const input = (use as { input: Record<string, string> }).input;
      expect(input.subject).toBe('My order 4242 arrived broken');
      expect(input.customer_email).toBe('ada@example.org');
      expect(input.description).toContain(`The customer wrote: "${question}"`);
      expect(input.description).toContain('Order 4242: status delivered, items 2 × Brass Telescope');
      expect(input.description).toContain('carrier Pigeon Post (tracking PP-77)');
      const text = textOf(result);
      expect(text).toContain('Order 4242 is delivered: The carrier reported the order as delivered.');
      expect(text).toContain('- Items: 2 × Brass Telescope ($310.50 each)');
      expect(text).toContain('I will open a support ticket');
    });

    it('tells the ticket number and who follows up once the ticket is open', async () => {
      const result = await answer(
        turnAfter(
          'create a ticket: my order 4242 arrived broken',
          { name: 'lookup_order', input: { order_number: '4242' }, returned: ORDER },
          { name: 'create_support_ticket', input: { subject: 'x', description: 'y' }, returned: TICKET },
        ),
      );
      expect(result.stop_reason).toBe('end_turn');
      expect(textOf(result)).toBe(
        '[offline-demo] I opened support ticket TCK-31337 (normal priority, status open): "My order 4242 arrived ' +
          'broken". A member of the support team will follow up by email at ada@example.org.',
      );
    });

    it('opens no ticket for an order that cannot be found', async () => {
      const result = await answer(
        turnAfter('create a ticket: order 9999 never came', {
          name: 'lookup_order',
          input: { order_number: '9999' },
          returned: 'No order with number 9999.',
        }),
      );
      expect(result.stop_reason).toBe('end_turn');
      expect(textOf(result)).toBe(
        '[offline-demo] Sorry, the lookup_order tool reported an error: No order with number 9999. Please check ' +
          'your request and try again. I did not open a ticket for an order that cannot be found.',
      );
    });

    it('opens a ticket at once when the message names no order', async () => {
      const result = await answer([{ role: 'user', content: 'Please open a ticket: I cannot sign in' }]);
      expect(result.content[1]).toMatchObject({
        name: 'create_support_ticket',
        input: { subject: 'I cannot sign in', description: expect.stringContaining('I cannot sign in') },
      });
    });

    it('tells an order in sentences and lines from the lookup result', async () => {
      const result = await answer(
        turnAfter('Where is order 4242?', {
          name: 'lookup_order',
          input: { order_number: '4242' },
          returned: ORDER,
        }),
      );
      expect(textOf(result)).toBe(
        [
          '[offline-demo] Order 4242 is delivered: The carrier reported the order as delivered.',
          '- Items: 2 × Brass Telescope ($310.50 each)',
          '- Total: $621.00',
          '- Carrier: Pigeon Post, tracking number PP-77',
          '- Placed on 2031-03-01',
          '- Shipped on 2031-03-02',
          '- Estimated delivery: 2031-03-05',
        ].join('\n'),
      );
    });

    it('states a percentage from the calculator result', async () => {
      const result = await answer(
        turnAfter('what is 17% of 2350', {
          name: 'calculator',
          input: { expression: '17 / 100 * 2350' },
          returned: { expression: '17 / 100 * 2350', result: 399.5 },
        }),
      );
      expect(textOf(result)).toBe('[offline-demo] 17% of 2350 is 399.5 (17 / 100 * 2350 = 399.5).');
    });

    it('compares the plans the pricing tool returned, with prices, seats and features', async () => {
      const result = await answer(
        turnAfter('compare your plans', { name: 'get_pricing', input: {}, returned: PLANS }),
      );
      expect(textOf(result)).toBe(
        [
          '[offline-demo] Here are our 2 plans side by side (prices in USD):',
          '- Solo: $11.00/month or $110.00/year; 1 seat included, up to 5 seats, extra seats $4.00/month each. ' +
            'Features: Night mode, Star maps.',
          '- Observatory: $500.00/month or $5,000.00/year; 10 seats included, no seat limit, extra seats ' +
            '$3.50/month each. Features: Dome control.',
        ].join('\n'),
      );
    });

    it('quotes a number of seats on every plan and names the cheapest', async () => {
      const priced = {
        currency: 'USD',
        cheapest_plan_for_seats: 'observatory',
        plans: [
          {
            ...PLANS.plans[0],
            quote: {
              seats: 12,
              billing: 'monthly',
              available: false,
              reason: 'The Solo plan allows at most 5 seats.',
            },
          },
          {
            ...PLANS.plans[1],
            quote: {
              seats: 12,
              billing: 'monthly',
              available: true,
              base_price_usd: 500,
              extra_seats: 2,
              extra_seat_price_usd: 3.5,
              extra_seats_cost_usd: 7,
              total_usd: 507,
              period: 'month',
            },
          },
        ],
      };
      const result = await answer(
        turnAfter('how much for 12 seats', { name: 'get_pricing', input: { seats: 12 }, returned: priced }),
      );
      expect(textOf(result)).toBe(
        [
          '[offline-demo] For 12 seats, billed monthly, the cheapest plan is Observatory at $507.00/month ' +
            '($500.00 base + 2 extra seats × $3.50).',
          '- Solo: not available (The Solo plan allows at most 5 seats.)',
          '- Observatory: $507.00/month ($500.00 base + 2 extra seats × $3.50)',
        ].join('\n'),
      );
    });

    it('points a pricing question to an agent with the pricing tool when this one has none', async () => {
      const result = await answer([{ role: 'user', content: 'how much for 12 seats' }], SUPPORT_TOOLS);
      expect(result.stop_reason).toBe('end_turn');
      expect(textOf(result)).toContain('This agent has no pricing tool');
      expect(textOf(result)).toContain('"agent_name": "sales"');
    });

    it('tells the time the clock tool returned', async () => {
      const time = {
        timezone: 'Europe/Paris',
        local_time: '2031-03-06T09:15:00+01:00',
        utc_time: '2031-03-06T08:15:00.000Z',
        date: '2031-03-06',
        time: '09:15:00',
        weekday: 'Thursday',
        utc_offset: '+01:00',
        formatted: 'Thursday, March 6, 2031 at 9:15 AM',
      };
      const result = await answer(
        turnAfter('What time is it in Europe/Paris?', {
          name: 'get_current_time',
          input: { timezone: 'Europe/Paris' },
          returned: time,
        }),
      );
      expect(textOf(result)).toBe(
        '[offline-demo] It is Thursday, March 6, 2031 at 9:15 AM in Europe/Paris (2031-03-06T09:15:00+01:00).',
      );
    });

    it('lists the catalogue by category, and the categories when a search finds nothing', async () => {
      const products = [
        {
          sku: 'T-1',
          name: 'Brass Telescope',
          description: 'Sees far.',
          category: 'optics',
          price_usd: 310.5,
        },
        { sku: 'M-1', name: 'Moon Map', description: 'Laminated.', category: 'prints', price_usd: 9 },
      ];
      const all = await answer(
        turnAfter('what products do you sell', {
          name: 'get_product_catalog',
          input: {},
          returned: { products, count: 2, categories: ['optics', 'prints'] },
        }),
      );
      expect(textOf(all)).toBe(
        '[offline-demo] We sell 2 products in 2 categories:\n\noptics:\n- Brass Telescope (T-1): $310.50 — Sees far.' +
          '\n\nprints:\n- Moon Map (M-1): $9.00 — Laminated.',
      );
      const none = await answer(
        turnAfter('Do you sell comets?', {
          name: 'get_product_catalog',
          input: { query: 'comets' },
          returned: { products: [], count: 0, categories: ['optics', 'prints'] },
        }),
      );
      expect(textOf(none)).toBe(
        '[offline-demo] No product matching "comets" right now. The categories on sale are optics, prints.',
      );
    });

    it('lists the fields of a result whose shape it does not know, hiding nothing', async () => {
      const result = await answer(
        turnAfter('question', {
          name: 'lookup_order',
          input: { order_number: '1001' },
          returned: { order_number: 1001, state: 'lost at sea' },
        }),
      );
      expect(textOf(result)).toBe(
        '[offline-demo] Here is what the lookup_order tool returned:\n- Order number: 1001\n- State: lost at sea',
      );
    });

    it('offers examples of what it can answer, for the tools the agent has, instead of fixed rules', async () => {
      const result = await answer([{ role: 'user', content: 'Tell me a joke' }], [tool('get_current_time')]);
      const text = textOf(result);
      expect(text).not.toContain('fixed rules');
      expect(text).toContain('try "What time is it?"');
      expect(text).not.toContain('refund policy');
    });
  });

  it('mentions the error when a tool result is an error', async () => {
    const { result } = await collect(
      offlineClient().stream(
        request(afterTool('lookup_order', { order_number: '9999' }, 'No order 9999 was found.', true)),
      ),
    );
    expect(textOf(result)).toBe(
      '[offline-demo] Sorry, the lookup_order tool reported an error: No order 9999 was found. Please check your request and try again.',
    );
  });

  it('streams its answer as several small deltas that join into the text block', async () => {
    const { texts, result } = await collect(offlineClient().stream(ask('Tell me about your return policy')));
    expect(texts.length).toBeGreaterThan(3);
    expect(texts.every((t) => t.trim().split(/\s+/).length <= 3)).toBe(true);
    expect(texts.join('')).toBe(textOf(result));
    expect(result.time_to_first_token_ms).not.toBeNull();
  });

  it('gives the same answer to the same request every time', async () => {
    const strip = ({ result, texts }: { texts: string[]; result: LlmResult }) => ({
      texts,
      result: { ...result, latency_ms: 0, time_to_first_token_ms: 0 },
    });
    const first = strip(await collect(offlineClient().stream(ask('What is 2 + 2?'))));
    const second = strip(await collect(offlineClient().stream(ask('What is 2 + 2?'))));
    expect(second).toEqual(first);
  });

  it('gives tool uses ids that differ from one turn of a conversation to the next', async () => {
    const first = await collect(offlineClient().stream(ask('Where is order 1001?')));
    const laterTurn = request([
      ...afterTool('lookup_order', { order_number: '1001' }, '{"status":"shipped"}'),
      { role: 'assistant', content: [{ type: 'text', text: 'It shipped.' }] },
      { role: 'user', content: 'And order 1002?' },
    ]);
    const second = await collect(offlineClient().stream(laterTurn));
    const idOf = (r: LlmResult) => r.content.find((b) => b.type === 'tool_use')?.id;
    expect(idOf(first.result)).toBeDefined();
    expect(idOf(second.result)).toBeDefined();
    expect(idOf(second.result)).not.toBe(idOf(first.result));
  });

  it('estimates usage from the prompt and the answer, with no cache tokens', async () => {
    const { result } = await collect(offlineClient().stream(ask('Where is order 1001?')));
    expect(result.usage.input_tokens).toBeGreaterThan(10);
    expect(result.usage.output_tokens).toBeGreaterThan(5);
    expect(result.usage.cache_creation_input_tokens).toBe(0);
    expect(result.usage.cache_read_input_tokens).toBe(0);
  });

  it('fails with an aborted LlmError when the signal has already fired', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      collect(offlineClient().stream(ask('Hello', { signal: controller.signal }))),
    ).rejects.toMatchObject({
      name: 'LlmError',
      kind: 'aborted',
    });
  });

  it('stops between deltas when the signal fires mid-answer', async () => {
    const controller = new AbortController();
    const texts: string[] = [];
    const run = async () => {
      for await (const event of offlineClient(1_000).stream(
        ask('Tell me a story', { signal: controller.signal }),
      )) {
        if (event.type === 'text') {
          texts.push(event.text);
          controller.abort();
        }
      }
    };
    const startedAt = Date.now();
    const error = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LlmError);
    expect((error as LlmError).kind).toBe('aborted');
    expect(texts).toHaveLength(1);
    // The 1 s pace was cut short by the abort.
    expect(Date.now() - startedAt).toBeLessThan(500);
  });
});
