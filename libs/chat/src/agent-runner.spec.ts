// The agent loop's own rules, against a scripted model and in-test tools (the model port is injected).
import { AppConfig, Metrics } from '@lib/core';
import type { AgentDefinition } from '@lib/agents';
import { LlmError, PriceTable, ToolUseBlock } from '@lib/llm';
import { ToolRegistry } from '@lib/tools';
import type { ReservationOutcome, SpendGuard, SpendScope } from '@lib/usage';
import type { RunnerDoneEvent, RunnerEvent } from './agent-events';
import { ScriptedModel as BaseScriptedModel, ScriptedStep } from './scripted-model.spec-helper';
import { TurnTelemetry } from './turn-telemetry';
import { AgentRunner, AgentTurnError, thinkingSettings } from './agent-runner';

/** The cache tokens this spec's model reports with every answer. */
class ScriptedModel extends BaseScriptedModel {
  constructor(steps: ScriptedStep[]) {
    super(steps, { creation: 20, read: 50 });
  }
}

const agent: AgentDefinition = {
  name: 'spec',
  description: 'spec agent',
  systemPrompt: 'You are a test.',
  model: '',
  temperature: 0,
  maxIterations: 3,
  maxTokens: 100,
  tools: ['slow', 'fast', 'boom'],
};

function registry(): ToolRegistry {
  const tools = new ToolRegistry(Object.assign(new AppConfig(), { toolTimeoutMs: 1_000 }));
  const schema = { type: 'object', properties: {}, additionalProperties: false };
  tools.register({
    name: 'slow',
    description: 'slow',
    inputSchema: schema,
    execute: () => delay(30, 'slow result'),
  });
  tools.register({
    name: 'fast',
    description: 'fast',
    inputSchema: schema,
    execute: () => delay(1, 'fast result'),
  });
  tools.register({
    name: 'boom',
    description: 'fails',
    inputSchema: schema,
    execute: () => Promise.reject(new Error('the tool broke')),
  });
  return tools;
}

const delay = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));
const use = (id: string, name: string): ToolUseBlock => ({ type: 'tool_use', id, name, input: {} });

/** A budget of `limitUsd` kept in memory: grants a reservation only if spent + reserved + worst case fits. */
class BudgetForTest {
  spent = 0;
  reserved = 0;
  readonly reservations: number[] = [];
  readonly settlements: number[] = [];
  constructor(private readonly limitUsd = Infinity) {}
  /** Always limited, so every call's worst case is estimated and recorded. */
  isUnlimited(): boolean {
    return false;
  }
  async reserve(_scope: SpendScope, worst: number): Promise<ReservationOutcome> {
    if (this.spent + this.reserved + worst > this.limitUsd) {
      return { granted: false, limit: 'conversation', limitUsd: this.limitUsd, committedUsd: this.spent };
    }
    this.reserved += worst;
    this.reservations.push(worst);
    return {
      granted: true,
      reservation: {
        worstCaseUsd: worst,
        settle: async (actual) => {
          this.reserved -= worst;
          this.spent += actual;
          this.settlements.push(actual);
        },
      },
    };
  }
}

async function run(
  model: ScriptedModel,
  signal = new AbortController().signal,
  budget = new BudgetForTest(),
) {
  const runner = new AgentRunner(
    model,
    registry(),
    new PriceTable(),
    budget as unknown as SpendGuard,
    new TurnTelemetry(new Metrics()),
  );
  const events: RunnerEvent[] = [];
  for await (const event of runner.run({
    agent,
    history: [],
    userMessage: 'hi',
    tenantId: 't',
    conversationId: 'c',
    signal,
  })) {
    events.push(event);
  }
  return { events, done: events.at(-1) as RunnerDoneEvent };
}

describe('AgentRunner', () => {
  it('runs tools of one response concurrently, reports them as they finish, and returns results in request order', async () => {
    const model = new ScriptedModel([{ toolUses: [use('a', 'slow'), use('b', 'fast')] }, { text: 'ok' }]);
    const { events, done } = await run(model);
    const ends = events
      .filter((e) => e.type === 'tool_end')
      .map((e) => (e as { tool_use_id: string }).tool_use_id);
    expect(ends).toEqual(['b', 'a']);
    const results = model.requests[1].messages[2].content as Array<{ tool_use_id: string; content: string }>;
    expect(results.map((r) => r.tool_use_id)).toEqual(['a', 'b']);
    expect(results.map((r) => r.content)).toEqual(['slow result', 'fast result']);
    expect(done.stop_reason).toBe('end_turn');
  });

  it('turns a failing tool into an is_error result and goes on', async () => {
    const model = new ScriptedModel([{ toolUses: [use('x', 'boom')] }, { text: 'recovered' }]);
    const { done } = await run(model);
    const result = (
      model.requests[1].messages[2].content as Array<{ is_error?: boolean; content: string }>
    )[0];
    expect(result).toMatchObject({ is_error: true, content: expect.stringContaining('the tool broke') });
    expect(done.response).toBe('recovered');
  });

  it('stops at max_iterations after answering the last tool calls', async () => {
    const model = new ScriptedModel([1, 2, 3, 4].map((i) => ({ toolUses: [use(`t${i}`, 'fast')] })));
    const { done } = await run(model);
    expect(model.requests).toHaveLength(3);
    expect(done.stop_reason).toBe('max_iterations');
    expect(done.messages.at(-1)).toMatchObject({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 't3' }],
    });
  });

  it('sums usage over every call, counting cache writes and reads as input, and prices them', async () => {
    const model = new ScriptedModel([{ toolUses: [use('a', 'fast')] }, { text: 'ok' }]);
    const { done } = await run(model);
    expect(done.usage).toMatchObject({ input_tokens: 2 * 170, output_tokens: 20, tokens_used: 360 });
    expect(done.usage.cost_usd).toBeCloseTo((2 * (100 * 3 + 10 * 15 + 20 * 3.75 + 50 * 0.3)) / 1e6, 8);
    expect(done.llm_calls).toHaveLength(2);
  });

  it('answers every tool_use with a cancelled result when cancelled before the tools run', async () => {
    const controller = new AbortController();
    const model = new ScriptedModel([{ toolUses: [use('a', 'fast'), use('b', 'slow')] }]);
    const original = model.stream.bind(model);
    model.stream = async function* (request) {
      for await (const event of original(request)) {
        if (event.type === 'result') controller.abort();
        yield event;
      }
    };
    const { done } = await run(model, controller.signal);
    expect(done.stop_reason).toBe('cancelled');
    expect(done.messages.at(-1)!.content).toEqual([
      expect.objectContaining({ tool_use_id: 'a', is_error: true }),
      expect.objectContaining({ tool_use_id: 'b', is_error: true }),
    ]);
  });

  it('stores no whitespace-only text block when cancelled just after a whitespace delta', async () => {
    const controller = new AbortController();
    const model = new ScriptedModel([
      { toolUses: [use('a', 'fast')] },
      { text: ' \n\t ', cancelAfterText: controller },
    ]);
    const { done } = await run(model, controller.signal);
    expect(done.stop_reason).toBe('cancelled');
    expect(done.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(done.messages.at(-1)!.content).toEqual([expect.objectContaining({ type: 'tool_result' })]);
  });

  it('keeps the text a cancelled call had produced when it is more than whitespace', async () => {
    const controller = new AbortController();
    const model = new ScriptedModel([{ text: '\nYour order ', cancelAfterText: controller }]);
    const { done } = await run(model, controller.signal);
    expect(done.messages.at(-1)).toEqual({
      role: 'assistant',
      content: [{ type: 'text', text: '\nYour order ' }],
    });
  });

  it('drops whitespace-only text blocks from a finished response, keeping its tool calls', async () => {
    const model = new ScriptedModel([{ text: '\n\n', toolUses: [use('a', 'fast')] }, { text: ' ' }]);
    const { done } = await run(model);
    expect(done.messages[1]).toEqual({ role: 'assistant', content: [use('a', 'fast')] });
    expect(
      done.messages.every(
        (m) => typeof m.content === 'string' || m.content.every((b) => b.type !== 'text' || b.text.trim()),
      ),
    ).toBe(true);
    expect(model.requests[1].messages[1]).toEqual({ role: 'assistant', content: [use('a', 'fast')] });
  });

  it('fails with the calls already made when the provider fails mid-turn', async () => {
    const model = new ScriptedModel([
      { toolUses: [use('a', 'fast')] },
      { fail: new LlmError('overloaded', 'Overloaded') },
    ]);
    const failure = await run(model).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AgentTurnError);
    expect((failure as AgentTurnError).llmCalls).toHaveLength(1);
  });

  it("reserves each call's worst case, settles it to the real cost, and stops with cost_limit before a call that would not fit", async () => {
    const model = new ScriptedModel([1, 2, 3].map((i) => ({ toolUses: [use(`t${i}`, 'fast')] })));
    // Each call really costs 0.00054 USD (see the usage above) but reserves its worst case: 100 max_tokens
    // at 15 USD per million plus the input bound (a token per UTF-8 byte, plus the tool-use system prompt) at
    // the cache-write price, 0.0045 to 0.0061 USD as history grows.
    // The third call would need 0.00108 spent + about 0.00605 reserved: more than 0.0065.
    const budget = new BudgetForTest(0.0065);
    const { done } = await run(model, undefined, budget);
    expect(done.stop_reason).toBe('cost_limit');
    expect(model.requests).toHaveLength(2);
    expect(budget.settlements).toEqual([0.00054, 0.00054]);
    expect(budget.reservations.every((r) => r > 0.0045 && r < 0.0055)).toBe(true);
    expect(budget.spent).toBeLessThanOrEqual(0.0065);
    expect(budget.reserved).toBeCloseTo(0, 10);
    // The tools of the last call made were answered: the history stays valid for the provider.
    expect(done.messages.at(-1)).toMatchObject({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 't2' }],
    });
  });

  it('makes no call at all when the first one does not fit', async () => {
    const model = new ScriptedModel([{ text: 'never' }]);
    const { done } = await run(model, undefined, new BudgetForTest(0.0001));
    expect(done.stop_reason).toBe('cost_limit');
    expect(model.requests).toHaveLength(0);
    expect(done.llm_calls).toEqual([]);
  });

  it('releases the reservation of a call that failed', async () => {
    const budget = new BudgetForTest();
    const model = new ScriptedModel([{ fail: new LlmError('overloaded', 'Overloaded') }]);
    await run(model, undefined, budget).catch(() => undefined);
    expect(budget.settlements).toEqual([0]);
    expect(budget.reserved).toBeCloseTo(0, 10);
  });
});

describe('thinkingSettings', () => {
  const base = {
    name: 'a',
    description: '',
    systemPrompt: '',
    model: '',
    temperature: 0,
    maxIterations: 1,
    maxTokens: 512,
    tools: [],
  };

  it('sends the budget within max_tokens, as the provider counts it', () => {
    expect(thinkingSettings({ ...base, maxTokens: 4096, thinkingBudgetTokens: 2048 })).toEqual({
      maxTokens: 4096,
      thinking: { budgetTokens: 2048 },
    });
  });

  it('keeps the budget below max_tokens for an agent whose budget would take all of it', () => {
    expect(thinkingSettings({ ...base, maxTokens: 2048, thinkingBudgetTokens: 2048 })).toEqual({
      maxTokens: 3072,
      thinking: { budgetTokens: 2048 },
    });
  });

  it('sends no thinking for an agent without a budget', () => {
    expect(thinkingSettings(base)).toEqual({ maxTokens: 512 });
    expect(thinkingSettings({ ...base, thinkingBudgetTokens: null })).toEqual({ maxTokens: 512 });
  });
});
