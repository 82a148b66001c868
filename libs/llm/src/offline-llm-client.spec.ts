import { AppConfig } from '@lib/core';
import type { ChatMessage } from './content';
import type { LlmRequest, LlmResult, LlmStreamEvent, ToolSpec } from './llm-client';
import { LlmError } from './llm-error';
import { OfflineLlmClient } from './offline-llm-client';

const tool = (name: string): ToolSpec => ({ name, description: name, input_schema: { type: 'object' } });
const ALL_TOOLS = ['lookup_order', 'calculator', 'search_knowledge_base', 'get_current_time'].map(tool);

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

  it('summarises a JSON tool result into a readable final answer', async () => {
    const content = JSON.stringify({
      order_number: '1001',
      status: 'shipped',
      carrier: 'UPS',
      items: ['Keyboard'],
    });
    const { result } = await collect(
      offlineClient().stream(request(afterTool('lookup_order', { order_number: '1001' }, content))),
    );
    const text = textOf(result);
    expect(result.stop_reason).toBe('end_turn');
    expect(result.content.every((b) => b.type === 'text')).toBe(true);
    expect(text.startsWith('[offline-demo] Here is what I found for order 1001:')).toBe(true);
    expect(text).toContain('- Status: shipped');
    expect(text).toContain('- Carrier: UPS');
    expect(text).toContain('- Items: Keyboard');
  });

  it('states the calculator result as an equation', async () => {
    const { result } = await collect(
      offlineClient().stream(
        request(afterTool('calculator', { expression: '12 * (3 + 4)' }, '{"result":84}')),
      ),
    );
    expect(textOf(result)).toBe('[offline-demo] 12 * (3 + 4) = 84.');
  });

  it('lists knowledge base articles by title', async () => {
    const articles = JSON.stringify({
      results: [
        { title: 'Resetting your password', snippet: 'Use the "Forgot password" link.' },
        { title: 'Two-factor authentication', snippet: 'Enable it under Security.' },
      ],
    });
    const { result } = await collect(
      offlineClient().stream(
        request(afterTool('search_knowledge_base', { query: 'reset my password' }, articles)),
      ),
    );
    const text = textOf(result);
    expect(text).toContain('Here is what the knowledge base says about "reset my password":');
    expect(text).toContain('- Resetting your password: Use the "Forgot password" link.');
    expect(text).toContain('- Two-factor authentication: Enable it under Security.');
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
