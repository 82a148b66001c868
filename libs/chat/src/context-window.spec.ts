// A turn's context against a recording model: every request it lets through, the summariser's included, fits the
// budget; a summary is written once and kept; a "prompt is too long" tightens the budget for the retry.
import { AppConfig } from '@lib/core';
import type { ConversationContextStore, ConversationSummary, LlmCallRecord } from '@lib/conversations';
import { ChatMessage, LlmClient, LlmRequest, LlmStreamEvent, PriceTable, requestTokenBound } from '@lib/llm';
import type { SpendGuard } from '@lib/usage';
import { ContextScope, ContextWindow, PreparedRequest, SUMMARISER_SYSTEM } from './context-window';

class RecordingModel extends LlmClient {
  readonly kind = 'recording';
  readonly requests: LlmRequest[] = [];
  modelFor(requested: string): string {
    return requested || 'claude-sonnet-4-6';
  }
  async *stream(request: LlmRequest): AsyncIterable<LlmStreamEvent> {
    this.requests.push(request);
    yield {
      type: 'result',
      result: {
        model: 'claude-sonnet-4-6',
        content: [{ type: 'text', text: `summary #${this.requests.length}` }],
        stop_reason: 'end_turn',
        usage: {
          input_tokens: 100,
          output_tokens: 20,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        },
        latency_ms: 1,
        time_to_first_token_ms: 1,
      },
    };
  }
}

/** The context records of one conversation, kept as the PostgreSQL store keeps them (see the e2e test for that). */
class RecordsOfOneConversation {
  summaries: ConversationSummary[] = [];
  clearedBefore = 0;
  state() {
    return Promise.resolve({
      summary: this.summaries.at(-1) ?? null,
      toolResultsClearedBefore: this.clearedBefore,
    });
  }
  saveSummary(_tenant: string, summary: Omit<ConversationSummary, 'id' | 'createdAt'>) {
    const saved = { ...summary, id: String(this.summaries.length), createdAt: new Date() };
    this.summaries.push(saved);
    return Promise.resolve(saved);
  }
  clearToolResultsBefore(_tenant: string, _id: string, position: number) {
    this.clearedBefore = Math.max(this.clearedBefore, position);
    return Promise.resolve();
  }
}

const unlimited = {
  isUnlimited: () => true,
  reserve: () =>
    Promise.resolve({ granted: true, reservation: { worstCaseUsd: 0, settle: () => Promise.resolve() } }),
} as unknown as SpendGuard;

const tools = [{ name: 'lookup_order', description: 'Looks an order up.', input_schema: { type: 'object' } }];

function history(turns: number, resultSize: number): ChatMessage[] {
  return Array.from({ length: turns }, (_, n): ChatMessage[] => [
    { role: 'user', content: `Question ${n}` },
    { role: 'assistant', content: [{ type: 'tool_use', id: `t${n}`, name: 'lookup_order', input: {} }] },
    {
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: `t${n}`, content: 'r'.repeat(resultSize) }],
    },
    { role: 'assistant', content: [{ type: 'text', text: `Answer ${n}` }] },
  ]).flat();
}

function setup(budget: number, stored: ChatMessage[]) {
  const model = new RecordingModel();
  const records = new RecordsOfOneConversation();
  const config = Object.assign(new AppConfig(), { modelContextWindows: {}, contextSummaryMaxTokens: 2048 });
  const window = new ContextWindow(
    model,
    new PriceTable(),
    unlimited,
    records as unknown as ConversationContextStore,
    config,
  );
  const scope: ContextScope = {
    tenantId: 't',
    conversationId: 'c',
    agent: {
      name: 'a',
      description: '',
      systemPrompt: 'You help.',
      model: '',
      temperature: 0,
      maxIterations: 5,
      maxTokens: 500,
      tools: [],
    },
    model: 'claude-sonnet-4-6',
    system: 'You help.',
    tools,
    history: stored,
    maxTokens: 500,
    maxContextTokens: budget,
    signal: new AbortController().signal,
    spend: { conversationLimitUsd: null },
  };
  return { model, records, window, scope };
}

const bound = (request: LlmRequest) => requestTokenBound(request);

describe('TurnContext', () => {
  it('keeps every request within the budget, the summariser chunks included, even past a result larger than the budget', async () => {
    const stored = [...history(10, 800), ...history(1, 20_000), ...history(10, 800)].map((m, i) => ({
      ...m,
      // Distinct ids across the three parts.
      content:
        typeof m.content === 'string'
          ? m.content
          : m.content.map((b) =>
              b.type === 'tool_use'
                ? { ...b, id: `u${i}` }
                : b.type === 'tool_result'
                  ? { ...b, tool_use_id: `u${i - 1}` }
                  : b,
            ),
    }));
    const { model, records, window, scope } = setup(6_000, stored);
    const context = await window.open(scope);
    const calls: LlmCallRecord[] = [];
    const prepared = (await context.prepare([{ role: 'user', content: 'Next' }], calls)) as PreparedRequest;

    expect(prepared.tokens).toBeLessThanOrEqual(6_000);
    expect(prepared.compacted).toBe(true);
    expect(model.requests.length).toBeGreaterThan(1);
    for (const request of model.requests) {
      expect(request.system).toBe(SUMMARISER_SYSTEM);
      expect(bound(request)).toBeLessThanOrEqual(6_000);
    }
    // Each summariser call is recorded as a billed model call; one summary record covers the summarised range.
    expect(calls).toHaveLength(model.requests.length);
    expect(records.summaries).toHaveLength(1);
    expect(records.summaries[0]).toMatchObject({ firstSeq: 0, text: `summary #${model.requests.length}` });
  });

  it('reuses the stored summary on the next turn without calling the model', async () => {
    const stored = history(30, 400);
    const first = setup(8_000, stored);
    await (await first.window.open(first.scope)).prepare([{ role: 'user', content: 'Next' }], []);
    const written = first.model.requests.length;
    expect(written).toBeGreaterThan(0);

    // The next turn: the same records, two more messages stored.
    const next = [
      ...stored,
      { role: 'user' as const, content: 'Next' },
      { role: 'assistant' as const, content: 'OK' },
    ];
    const context = await first.window.open({ ...first.scope, history: next });
    const prepared = (await context.prepare([{ role: 'user', content: 'And then?' }], [])) as PreparedRequest;
    expect(first.model.requests).toHaveLength(written);
    expect(JSON.stringify(prepared.messages[0])).toContain(first.records.summaries[0].text);
    expect(prepared.tokens).toBeLessThanOrEqual(8_000);
  });

  it('compacts further after the provider says the prompt is too long', async () => {
    const { window, scope } = setup(100_000, history(20, 400));
    const context = await window.open(scope);
    const sent = (await context.prepare([{ role: 'user', content: 'Next' }], [])) as PreparedRequest;
    expect(sent.compacted).toBe(false);
    context.tighten({ tokens: 250_000, maximum: 200_000 }, sent);
    expect(context.tokenBudget).toBeLessThan(sent.tokens);
    const retry = (await context.prepare([{ role: 'user', content: 'Next' }], [])) as PreparedRequest;
    expect(retry.compacted).toBe(true);
    expect(retry.tokens).toBeLessThanOrEqual(context.tokenBudget);
  });
});
