// The Anthropic adapter driving the real SDK over real HTTP against the fake provider.
import { AppConfig } from '@lib/core';
import { AnthropicLlmClient, LlmError, LlmRequest, LlmResult, LlmStreamEvent } from '@lib/llm';
import { cachedUsage, FakeAnthropic, fakeUsage, thinkingSignature } from './support/fake-anthropic';

const API_KEY = 'sk-ant-api03-test-key-that-must-never-appear-in-messages';

function clientFor(fake: FakeAnthropic, overrides: Partial<AppConfig> = {}): AnthropicLlmClient {
  const config = Object.assign(new AppConfig(), {
    anthropicApiKey: API_KEY,
    anthropicBaseUrl: fake.url,
    anthropicModel: 'claude-sonnet-4-6',
    llmMaxRetries: 0,
    llmTimeoutMs: 5_000,
    ...overrides,
  });
  return new AnthropicLlmClient(config);
}

function request(overrides: Partial<LlmRequest> = {}): LlmRequest {
  return {
    model: 'claude-sonnet-4-6',
    system: 'You are the support agent.',
    messages: [{ role: 'user', content: 'Where is order 1001?' }],
    tools: [],
    temperature: 0.3,
    maxTokens: 512,
    ...overrides,
  };
}

async function collect(
  events: AsyncIterable<LlmStreamEvent>,
): Promise<{ texts: string[]; result: LlmResult }> {
  const texts: string[] = [];
  const results: LlmResult[] = [];
  for await (const event of events) {
    if (event.type === 'text') texts.push(event.text);
    else if (event.type === 'result') results.push(event.result);
  }
  expect(results).toHaveLength(1);
  return { texts, result: results[0] };
}

async function failureOf(events: AsyncIterable<LlmStreamEvent>): Promise<LlmError> {
  try {
    await collect(events);
  } catch (error) {
    expect(error).toBeInstanceOf(LlmError);
    return error as LlmError;
  }
  throw new Error('expected the model call to fail');
}

describe('AnthropicLlmClient against the fake provider', () => {
  let fake: FakeAnthropic;

  beforeEach(async () => {
    fake = await FakeAnthropic.start();
  });

  afterEach(async () => {
    await fake.stop();
  });

  describe('streaming', () => {
    it('yields the first text delta while the provider is still writing the message', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Your order shipped yesterday.', gate });
      const events = clientFor(fake).stream(request())[Symbol.asyncIterator]();

      const first = await events.next();
      expect(first.value).toEqual({ type: 'text', text: 'Your ' });
      expect(gate.isWaiting).toBe(true);
      expect(fake.completed).toBe(0);

      gate.release();
      const rest: LlmStreamEvent[] = [];
      for (let next = await events.next(); !next.done; next = await events.next()) rest.push(next.value);
      expect(rest.filter((e) => e.type === 'text').map((e) => (e.type === 'text' ? e.text : ''))).toEqual([
        'order ',
        'shipped ',
        'yesterday.',
      ]);
      expect(rest.at(-1)).toMatchObject({
        type: 'result',
        result: {
          content: [{ type: 'text', text: 'Your order shipped yesterday.' }],
          stop_reason: 'end_turn',
        },
      });
      expect(fake.completed).toBe(1);
    });

    it('ends with exactly one result holding the text, the stop reason, the model and the timings', async () => {
      fake.enqueue({ text: 'Hello there', chunkSize: 3, firstByteDelayMs: 40, eventDelayMs: 2 });
      const { texts, result } = await collect(clientFor(fake).stream(request()));
      expect(texts.join('')).toBe('Hello there');
      expect(texts.length).toBeGreaterThan(1);
      expect(result).toMatchObject({
        model: 'claude-sonnet-4-6',
        content: [{ type: 'text', text: 'Hello there' }],
        stop_reason: 'end_turn',
      });
      expect(result.time_to_first_token_ms).toBeGreaterThanOrEqual(35);
      expect(result.latency_ms).toBeGreaterThanOrEqual(result.time_to_first_token_ms!);
    });

    it('parses tool_use input that arrives as JSON fragments split inside keys', async () => {
      const input = { order_number: '1001', options: { include_items: true, fields: ['status', 'eta'] } };
      fake.enqueue({
        text: 'Let me check.',
        toolUses: [{ id: 'toolu_01', name: 'lookup_order', input }],
        jsonChunkSize: 3,
      });
      const { result } = await collect(clientFor(fake).stream(request()));
      expect(result.stop_reason).toBe('tool_use');
      expect(result.content).toEqual([
        { type: 'text', text: 'Let me check.' },
        { type: 'tool_use', id: 'toolu_01', name: 'lookup_order', input },
      ]);
    });

    it('parses a tool use whose input is empty', async () => {
      fake.enqueue({
        toolUses: [{ id: 'toolu_02', name: 'get_current_time', input: {}, partialJson: [''] }],
      });
      const { result } = await collect(clientFor(fake).stream(request()));
      expect(result.content).toEqual([
        { type: 'tool_use', id: 'toolu_02', name: 'get_current_time', input: {} },
      ]);
    });

    it('ignores ping events and event types it does not know', async () => {
      fake.enqueue({ text: 'Still here.', pingEvery: 1, unknownEvents: true });
      const { texts, result } = await collect(clientFor(fake).stream(request()));
      expect(texts.join('')).toBe('Still here.');
      expect(result.content).toEqual([{ type: 'text', text: 'Still here.' }]);
    });

    it('drops a trailing tool use whose JSON input was cut off by max_tokens', async () => {
      fake.enqueue({
        text: 'Looking it up.',
        toolUses: [{ name: 'lookup_order', input: {}, partialJson: ['', '{"order_nu', 'mber": "10'] }],
        stop_reason: 'max_tokens',
      });
      const { result } = await collect(clientFor(fake).stream(request()));
      expect(result.stop_reason).toBe('max_tokens');
      expect(result.content).toEqual([{ type: 'text', text: 'Looking it up.' }]);
    });

    it.each([
      ['truncated although the model did not run out of tokens', ['', '{"order_number": "10']],
      ['not JSON at all', ['', '{"order_number": "1001"} and more']],
    ])(
      'fails with server_error, never a guessed input, when tool input JSON is %s',
      async (_case, partialJson) => {
        fake.enqueue({
          toolUses: [{ name: 'lookup_order', input: {}, partialJson }],
          stop_reason: 'tool_use',
        });
        const error = await failureOf(clientFor(fake).stream(request()));
        expect(error.kind).toBe('server_error');
      },
    );
  });

  describe('usage', () => {
    it('reports input, output, cache write and cache read tokens as the provider counted them', async () => {
      fake.enqueue({
        text: 'Cached.',
        usage: cachedUsage({ input: 12, output: 34, cacheWrite: 1_500, cacheRead: 2_000 }),
      });
      const { result } = await collect(clientFor(fake).stream(request()));
      expect(result.usage).toEqual({
        input_tokens: 12,
        output_tokens: 34,
        cache_creation_input_tokens: 1_500,
        cache_read_input_tokens: 2_000,
      });
    });

    it('counts null cache fields as 0', async () => {
      fake.enqueue({
        text: 'No cache.',
        usage: fakeUsage({
          input_tokens: 7,
          output_tokens: 3,
          cache_creation_input_tokens: null,
          cache_read_input_tokens: null,
        }),
      });
      const { result } = await collect(clientFor(fake).stream(request()));
      expect(result.usage).toEqual({
        input_tokens: 7,
        output_tokens: 3,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      });
    });
  });

  describe('the request it sends', () => {
    it('sends the model, system prompt, history, tools and max_tokens as given (prompt caching off)', async () => {
      const tools = [
        {
          name: 'lookup_order',
          description: 'Looks up an order by number.',
          input_schema: {
            type: 'object',
            properties: { order_number: { type: 'string' } },
            required: ['order_number'],
          },
        },
      ];
      const messages: LlmRequest['messages'] = [
        { role: 'user', content: 'Where is order 1001?' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Let me check.' },
            { type: 'tool_use', id: 'toolu_01', name: 'lookup_order', input: { order_number: '1001' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_01', content: 'No such order.', is_error: true },
          ],
        },
      ];
      fake.enqueue({ text: 'That order does not exist.' });
      await collect(
        clientFor(fake, { promptCaching: false }).stream(
          request({ messages, tools, maxTokens: 777, model: 'claude-haiku-4-5' }),
        ),
      );

      expect(fake.requests).toHaveLength(1);
      const sent = fake.requests[0];
      // SDK 1.x sends the key as a bearer token, not as x-api-key.
      expect(sent.headers.authorization).toBe(`Bearer ${API_KEY}`);
      expect(sent.body).toEqual({
        model: 'claude-haiku-4-5',
        max_tokens: 777,
        system: 'You are the support agent.',
        messages,
        tools,
        stream: true,
      });
    });

    it('marks the last tool, the system prompt and the tail as cache breakpoints, the content otherwise as given', async () => {
      const tools = [
        { name: 'a', description: 'A.', input_schema: { type: 'object' } },
        { name: 'b', description: 'B.', input_schema: { type: 'object' } },
      ];
      const messages: LlmRequest['messages'] = [
        { role: 'user', content: 'First' },
        { role: 'assistant', content: [{ type: 'text', text: 'Answer' }] },
        { role: 'user', content: 'Second' },
      ];
      fake.enqueue({ text: 'OK' });
      await collect(clientFor(fake).stream(request({ messages, tools })));
      const ephemeral = { type: 'ephemeral' };
      expect(fake.requests[0].body).toMatchObject({
        system: [{ type: 'text', text: 'You are the support agent.', cache_control: ephemeral }],
        tools: [tools[0], { ...tools[1], cache_control: ephemeral }],
        messages: [
          { role: 'user', content: 'First' },
          { role: 'assistant', content: [{ type: 'text', text: 'Answer', cache_control: ephemeral }] },
          { role: 'user', content: 'Second' },
        ],
      });
    });

    it('leaves temperature out, because anthropic-version 2026-10-21 refuses sampling parameters', async () => {
      fake.enqueue({ text: 'OK' });
      await collect(clientFor(fake).stream(request({ temperature: 0.7 })));
      expect(fake.requests[0].headers['anthropic-version']).toBe('2026-10-21');
      expect(fake.requests[0].body).not.toHaveProperty('temperature');
    });

    it('asks for extended thinking with the budget, and streams the thinking deltas apart from the text', async () => {
      fake.enqueue({ thinking: 'Check the order first.', text: 'It shipped.' });
      const thoughts: string[] = [];
      const texts: string[] = [];
      let result: LlmResult | undefined;
      for await (const event of clientFor(fake).stream(
        request({ maxTokens: 3072, thinking: { budgetTokens: 2048 } }),
      )) {
        if (event.type === 'thinking') thoughts.push(event.thinking);
        else if (event.type === 'text') texts.push(event.text);
        else if (event.type === 'result') result = event.result;
      }
      expect(fake.requests[0].body).toMatchObject({
        max_tokens: 3072,
        thinking: { type: 'enabled', budget_tokens: 2048 },
      });
      expect(thoughts.join('')).toBe('Check the order first.');
      expect(texts.join('')).toBe('It shipped.');
      expect(result!.content).toEqual([
        {
          type: 'thinking',
          thinking: 'Check the order first.',
          signature: thinkingSignature('Check the order first.'),
        },
        { type: 'text', text: 'It shipped.' },
      ]);
    });

    it('keeps a redacted_thinking block as received, and drops a thinking block cut before its signature', async () => {
      fake.enqueue({ redactedThinking: true, text: 'Done.' });
      const redacted = await collect(
        clientFor(fake).stream(request({ maxTokens: 3072, thinking: { budgetTokens: 2048 } })),
      );
      expect(redacted.result.content[0]).toEqual({ type: 'redacted_thinking', data: expect.any(String) });

      // Cut by max_tokens mid-thinking: the thinking streamed, its signature never came.
      fake.enqueue({
        thinking: 'A long thought that never',
        unsignedThinking: true,
        stop_reason: 'max_tokens',
      });
      const cut = await collect(
        clientFor(fake).stream(request({ maxTokens: 3072, thinking: { budgetTokens: 2048 } })),
      );
      expect(cut.result.stop_reason).toBe('max_tokens');
      expect(cut.result.content).toEqual([{ type: 'text', text: 'OK' }]);
    });

    it('sends thinking, redacted thinking, images and documents back in the shape the provider takes', async () => {
      fake.enqueue({ text: 'OK' });
      const thinking = { type: 'thinking' as const, thinking: 'Hmm.', signature: thinkingSignature('Hmm.') };
      const png = { type: 'base64' as const, media_type: 'image/png', data: 'iVBORw0KGgo=' };
      const messages: LlmRequest['messages'] = [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Look' },
            { type: 'image', source: png },
            { type: 'image', source: { type: 'url', url: 'https://example.com/a.webp' } },
            {
              type: 'document',
              source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' },
              title: 'A',
            },
          ],
        },
        { role: 'assistant', content: [thinking, { type: 'text', text: 'Seen.' }] },
        { role: 'user', content: 'And?' },
      ];
      await collect(clientFor(fake).stream(request({ messages })));
      const sent = fake.requests[0].body.messages as Array<{ content: unknown }>;
      // The prompt-cache breakpoints mark blocks without changing them, and never a thinking block.
      const marked = JSON.stringify(sent, (key, value: unknown) =>
        key === 'cache_control' ? undefined : value,
      );
      expect(JSON.parse(marked)).toEqual(messages);
      expect(JSON.stringify(sent[1].content)).not.toMatch(/"type":"thinking"[^}]*"cache_control"/);
    });

    it('uses the configured model when the request names none', async () => {
      fake.enqueue({ text: 'OK' });
      const client = clientFor(fake, { anthropicModel: 'claude-opus-4-8' });
      expect(client.modelFor('')).toBe('claude-opus-4-8');
      expect(client.modelFor('claude-haiku-4-5')).toBe('claude-haiku-4-5');
      await collect(client.stream(request({ model: '' })));
      expect(fake.requests[0].body.model).toBe('claude-opus-4-8');
    });

    it('sends each call its own history, which the provider can answer from', async () => {
      fake.respondWith((sent) => {
        const last = sent.body.messages.at(-1)?.content;
        return {
          text: `You said: ${typeof last === 'string' ? last : (last as Array<{ text: string }>)[0].text}`,
        };
      });
      const client = clientFor(fake);
      const first = await collect(client.stream(request({ messages: [{ role: 'user', content: 'one' }] })));
      const second = await collect(client.stream(request({ messages: [{ role: 'user', content: 'two' }] })));
      expect([first.result.content, second.result.content]).toEqual([
        [{ type: 'text', text: 'You said: one' }],
        [{ type: 'text', text: 'You said: two' }],
      ]);
    });

    it('omits an empty system prompt and an empty tool list', async () => {
      fake.enqueue({ text: 'OK' });
      await collect(clientFor(fake).stream(request({ system: '', tools: [] })));
      expect(fake.requests[0].body).not.toHaveProperty('system');
      expect(fake.requests[0].body).not.toHaveProperty('tools');
    });
  });

  describe('retries and failures', () => {
    it('makes one attempt only: the SDK never retries, ResilientLlmClient does (so the two never multiply)', async () => {
      fake.enqueue({ status: 429, retryAfter: 1, retryAfterMs: 20 }, { text: 'Second time lucky.' });
      const error = await failureOf(clientFor(fake, { llmMaxRetries: 3 }).stream(request()));
      expect(error).toMatchObject({ kind: 'rate_limited', retryAfterSeconds: 0.02 });
      expect(fake.requests).toHaveLength(1);
      expect(fake.requests[0].headers['x-stainless-retry-count']).toBe('0');
    });

    it('reads the retry-after of a 529 and a 503 too', async () => {
      fake.enqueue({ status: 529, retryAfter: 3 }, { status: 503, retryAfter: 2 });
      expect(await failureOf(clientFor(fake).stream(request()))).toMatchObject({
        kind: 'overloaded',
        retryAfterSeconds: 3,
      });
      expect(await failureOf(clientFor(fake).stream(request()))).toMatchObject({
        kind: 'server_error',
        retryAfterSeconds: 2,
      });
    });

    it('reports a 429 as rate_limited with the retry-after seconds once the SDK may not retry', async () => {
      fake.enqueue({ status: 429, retryAfter: 7 });
      const error = await failureOf(clientFor(fake).stream(request()));
      expect(error).toMatchObject({
        kind: 'rate_limited',
        status: 429,
        retryAfterSeconds: 7,
        retryable: true,
      });
      expect(fake.requests).toHaveLength(1);
    });

    it('reports a spend-limit 429 as billing, not as a rate limit', async () => {
      fake.enqueue({
        status: 429,
        errorCode: 'enforced_spend_limit_reached',
        message: 'You have reached your specified API usage limits.',
        shouldRetry: false,
      });
      const error = await failureOf(clientFor(fake, { llmMaxRetries: 2 }).stream(request()));
      expect(error).toMatchObject({ kind: 'billing', retryable: false });
      expect(fake.requests).toHaveLength(1);
    });

    it.each([
      [529, 'overloaded'],
      [500, 'server_error'],
      [503, 'server_error'],
      [408, 'server_error'],
      [401, 'authentication'],
      [403, 'authentication'],
      [402, 'billing'],
      [400, 'invalid_request'],
      [404, 'invalid_request'],
      [413, 'invalid_request'],
    ])('reports HTTP %i as %s', async (status, kind) => {
      fake.enqueue({ status });
      const error = await failureOf(clientFor(fake).stream(request()));
      expect(error.kind).toBe(kind);
      expect(error.status).toBe(status);
    });

    it('keeps the API key out of its error messages', async () => {
      fake.enqueue(
        { status: 401, message: `invalid x-api-key: ${API_KEY}` },
        { status: 400, message: `bad key ${API_KEY}` },
      );
      const unauthorised = await failureOf(clientFor(fake).stream(request()));
      const rejected = await failureOf(clientFor(fake).stream(request()));
      expect(unauthorised.message).toMatch(/^The model provider rejected the API key/);
      expect(rejected.message).toContain('bad key sk-ant-[redacted]');
      expect(`${unauthorised.message} ${rejected.message}`).not.toContain('test-key-that-must-never');
    });

    it("reports the provider's 400 for a tool_use left without its tool_result as invalid_request, with its reason", async () => {
      const messages: LlmRequest['messages'] = [
        { role: 'user', content: 'Where is order 1001?' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'toolu_01', name: 'lookup_order', input: {} }],
        },
        { role: 'user', content: 'Never mind.' },
      ];
      const error = await failureOf(clientFor(fake).stream(request({ messages })));
      expect(error.kind).toBe('invalid_request');
      expect(error.message).toContain(
        '`tool_use` ids were found without `tool_result` blocks immediately after: toolu_01',
      );
    });

    it('reports an SSE overloaded error after HTTP 200 as overloaded, without a retry', async () => {
      fake.enqueue({ text: 'This will not finish', errorEventAfter: 5 });
      const texts: string[] = [];
      let failure: unknown;
      try {
        for await (const event of clientFor(fake, { llmMaxRetries: 2 }).stream(request())) {
          if (event.type === 'text') texts.push(event.text);
        }
      } catch (error) {
        failure = error;
      }
      expect(failure).toBeInstanceOf(LlmError);
      expect(failure).toMatchObject({ kind: 'overloaded', status: undefined });
      expect(texts).toEqual(['This ', 'will ']);
      expect(fake.requests).toHaveLength(1);
    });

    it('reports an SSE api_error after HTTP 200 as server_error', async () => {
      fake.enqueue({
        text: 'Partial',
        errorEventAfter: 3,
        errorEvent: { type: 'api_error', message: 'Internal server error' },
      });
      const error = await failureOf(clientFor(fake).stream(request()));
      expect(error.kind).toBe('server_error');
    });

    it('reports a stream that ends cleanly before message_stop as a connection failure, not an answer', async () => {
      fake.enqueue({ text: 'This answer stops without its end', endAfterEvents: 6 });
      const error = await failureOf(clientFor(fake).stream(request()));
      expect(error).toMatchObject({ kind: 'connection', retryable: true });
    });

    it('reports a stream cut mid-way as a connection failure', async () => {
      fake.enqueue({ text: 'This answer is cut off before the end', cutAfterEvents: 6 });
      const error = await failureOf(clientFor(fake, { llmMaxRetries: 2 }).stream(request()));
      expect(error).toMatchObject({ kind: 'connection', retryable: true });
      expect(fake.requests).toHaveLength(1);
    });

    it('reports an unreachable provider as a connection failure', async () => {
      const gone = await FakeAnthropic.start();
      await gone.stop();
      const error = await failureOf(clientFor(fake, { anthropicBaseUrl: gone.url }).stream(request()));
      expect(error).toMatchObject({
        kind: 'connection',
        message: 'The model provider could not be reached.',
      });
    });

    it('reports a provider slower than llmTimeoutMs to answer as a connection failure', async () => {
      fake.enqueue({ text: 'Too late', firstByteDelayMs: 1_000 });
      const error = await failureOf(clientFor(fake, { llmTimeoutMs: 150 }).stream(request()));
      expect(error).toMatchObject({
        kind: 'connection',
        message: 'The model provider did not answer in time.',
      });
    });

    it('abandons a stream that goes silent for llmTimeoutMs, which the SDK timeout does not cover', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Hanging forever', gate });
      const error = await failureOf(clientFor(fake, { llmTimeoutMs: 200 }).stream(request()));
      expect(error.kind).toBe('connection');
      expect(error.message).toMatch(/sent nothing/);
      await fake.waitForAborts(1);
    });

    it('keeps a slow stream whose events come more often than llmTimeoutMs, however long it lasts', async () => {
      fake.enqueue({ text: 'one two three four five six seven eight', eventDelayMs: 60 });
      const { result } = await collect(clientFor(fake, { llmTimeoutMs: 200 }).stream(request()));
      expect(result.content).toEqual([{ type: 'text', text: 'one two three four five six seven eight' }]);
      expect(result.latency_ms).toBeGreaterThan(400);
    });

    it('fails loudly when the test scripted no reply', async () => {
      const error = await failureOf(clientFor(fake, { llmMaxRetries: 2 }).stream(request()));
      expect(error.kind).toBe('server_error');
      expect(fake.unscripted).toBe(1);
      expect(fake.requests).toHaveLength(1);
    });
  });

  describe('what an unfinished call billed', () => {
    it("carries message_start's input and an output estimate from the streamed text when the caller aborts", async () => {
      const gate = fake.gate();
      fake.enqueue({
        text: '你好世界🙂 and then a long English tail',
        chunkSize: 6,
        gate,
        usage: { input_tokens: 900, cache_read_input_tokens: 100, cache_creation_input_tokens: 50 },
      });
      const controller = new AbortController();
      let failure: LlmError | undefined;
      try {
        for await (const event of clientFor(fake).stream(request({ signal: controller.signal }))) {
          if (event.type === 'text') controller.abort();
        }
      } catch (error) {
        failure = error as LlmError;
      }
      expect(failure?.kind).toBe('aborted');
      // "你好世界🙂" (six UTF-16 units) was streamed: each of its five characters counts a token.
      expect(failure?.partial).toEqual({
        model: 'claude-sonnet-4-6',
        usage: {
          input_tokens: 900,
          output_tokens: 5,
          cache_read_input_tokens: 100,
          cache_creation_input_tokens: 50,
        },
        outputEstimated: true,
        latency_ms: expect.any(Number),
        time_to_first_token_ms: expect.any(Number),
      });
    });

    it('takes the output count of the last message_delta when the stream ends before message_stop', async () => {
      fake.enqueue({
        text: 'Almost finished.',
        usage: { input_tokens: 40, output_tokens: 34 },
        endAfterEvents: 99,
      });
      const error = await failureOf(clientFor(fake).stream(request()));
      expect(error.kind).toBe('connection');
      expect(error.partial).toMatchObject({
        usage: { input_tokens: 40, output_tokens: 34 },
        outputEstimated: false,
      });
    });

    it('carries nothing when the provider refused the request before answering', async () => {
      fake.enqueue({ status: 529 });
      const error = await failureOf(clientFor(fake).stream(request()));
      expect(error.kind).toBe('overloaded');
      expect(error.partial).toBeUndefined();
    });
  });

  describe('cancellation', () => {
    it('stops the HTTP request and fails with aborted when the caller aborts mid-stream', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'A long answer that the user gives up on', gate });
      const controller = new AbortController();
      const texts: string[] = [];
      let failure: unknown;
      try {
        for await (const event of clientFor(fake).stream(request({ signal: controller.signal }))) {
          if (event.type === 'text') {
            texts.push(event.text);
            controller.abort();
          }
        }
      } catch (error) {
        failure = error;
      }
      expect(failure).toBeInstanceOf(LlmError);
      expect(failure).toMatchObject({ kind: 'aborted', retryable: false });
      expect(texts).toEqual(['A ']);
      await fake.waitForAborts(1);
      expect(fake.completed).toBe(0);
    });

    it('fails with aborted without calling the provider when the signal has already fired', async () => {
      const controller = new AbortController();
      controller.abort();
      const error = await failureOf(clientFor(fake).stream(request({ signal: controller.signal })));
      expect(error.kind).toBe('aborted');
      expect(fake.requests).toHaveLength(0);
    });

    it('stops the HTTP request when the consumer stops reading early', async () => {
      const gate = fake.gate();
      fake.enqueue({ text: 'Nobody reads past the first word', gate });
      for await (const event of clientFor(fake).stream(request())) {
        if (event.type === 'text') break;
      }
      await fake.waitForAborts(1);
      expect(fake.completed).toBe(0);
    });
  });
});

// LLM_HTTP_CLIENT: undici's request under the SDK (the default, node-fetch.ts) and Node's global fetch behave alike.
describe.each(['undici', 'fetch'] as const)('AnthropicLlmClient over LLM_HTTP_CLIENT=%s', (llmHttpClient) => {
  let fake: FakeAnthropic;

  beforeEach(async () => {
    fake = await FakeAnthropic.start();
  });

  afterEach(async () => {
    await fake.stop();
  });

  it("streams an answer, sending the SDK's headers and the JSON request", async () => {
    fake.enqueue({ text: 'Order 1001 shipped yesterday.' });
    const { texts, result } = await collect(clientFor(fake, { llmHttpClient }).stream(request()));
    expect(texts.join('')).toBe('Order 1001 shipped yesterday.');
    expect(result.stop_reason).toBe('end_turn');
    expect(fake.requests[0].headers).toMatchObject({
      'anthropic-version': expect.any(String),
      'content-type': 'application/json',
    });
    // Which client sent it: Node's fetch adds the Fetch metadata header, undici's request sends only the SDK's.
    expect(fake.requests[0].headers['sec-fetch-mode']).toBe(llmHttpClient === 'fetch' ? 'cors' : undefined);
    expect(fake.requests[0].body).toMatchObject({ model: 'claude-sonnet-4-6', stream: true });
  });

  it('maps an HTTP error with its body and retry-after', async () => {
    fake.enqueue({ status: 429, retryAfter: 7 });
    const error = await failureOf(clientFor(fake, { llmHttpClient }).stream(request()));
    expect(error).toMatchObject({ kind: 'rate_limited', retryAfterSeconds: 7 });
  });

  it('reports a stream cut mid-way, an unreachable provider and a slow first byte as connection failures', async () => {
    fake.enqueue({ text: 'This answer is cut off before the end', cutAfterEvents: 6 });
    expect(await failureOf(clientFor(fake, { llmHttpClient }).stream(request()))).toMatchObject({
      kind: 'connection',
      message: 'The connection to the model provider was lost before the answer was complete.',
    });
    const gone = await FakeAnthropic.start();
    await gone.stop();
    expect(
      await failureOf(clientFor(fake, { llmHttpClient, anthropicBaseUrl: gone.url }).stream(request())),
    ).toMatchObject({ kind: 'connection', message: 'The model provider could not be reached.' });
    fake.enqueue({ text: 'Too late', firstByteDelayMs: 1_000 });
    expect(
      await failureOf(clientFor(fake, { llmHttpClient, llmTimeoutMs: 150 }).stream(request())),
    ).toMatchObject({ kind: 'connection', message: 'The model provider did not answer in time.' });
  });

  it('stops the request when the caller aborts mid-stream', async () => {
    const gate = fake.gate();
    fake.enqueue({ text: 'A long answer that waits', chunkSize: 4, gate });
    const controller = new AbortController();
    let failure: LlmError | undefined;
    try {
      for await (const event of clientFor(fake, { llmHttpClient }).stream(
        request({ signal: controller.signal }),
      )) {
        if (event.type === 'text') controller.abort();
      }
    } catch (error) {
      failure = error as LlmError;
    }
    expect(failure?.kind).toBe('aborted');
    await fake.waitForAborts(1);
  });
});
