// The loop's durable steps: what it records in a run's journal, and how an execution of the same run replays it.
import { randomUUID } from 'node:crypto';
import { AppConfig, Metrics } from '@lib/core';
import type { AgentDefinition } from '@lib/agents';
import { LlmError, PriceTable, ToolUseBlock } from '@lib/llm';
import { ToolContext, ToolRegistry } from '@lib/tools';
import type { RunStepRow } from '@lib/conversations';
import type { SpendGuard } from '@lib/usage';
import type { RunnerDoneEvent, RunnerEvent } from './agent-events';
import { AgentRunner, AgentTurnError, INTERRUPTED_RESULT } from './agent-runner';
import type { JournalStep, StepJournal, ToolGate } from './step-journal';
import { ScriptedModel } from './scripted-model.spec-helper';
import { TurnTelemetry } from './turn-telemetry';

/** A journal kept in memory: what the PostgreSQL one stores, in the order it was asked to. */
class JournalForTest implements StepJournal {
  readonly runId = randomUUID();
  stored: JournalStep[] = [];
  recorded: JournalStep[] = [];
  newCallId(): string {
    return randomUUID();
  }
  async record(step: JournalStep): Promise<void> {
    this.stored.push(structuredClone(step));
  }
  row(step: JournalStep): RunStepRow {
    const { kind, ...data } = step;
    return { step: this.stored.length, kind, tool_use_id: null, data };
  }
  /** The journal a later execution of the run reads. */
  again(): this {
    this.recorded = structuredClone(this.stored);
    return this;
  }
}

const agent: AgentDefinition = {
  name: 'spec',
  description: 'spec agent',
  systemPrompt: 'You are a test.',
  model: '',
  temperature: 0,
  maxIterations: 5,
  maxTokens: 100,
  tools: ['ticket', 'charge', 'lookup'],
};

const schema = { type: 'object', properties: {}, additionalProperties: false };

function tools() {
  const registry = new ToolRegistry(Object.assign(new AppConfig(), { toolTimeoutMs: 1_000 }));
  const calls: Array<{ name: string; context: ToolContext }> = [];
  const tool = (name: string, idempotent?: boolean) =>
    registry.register({
      name,
      description: name,
      inputSchema: schema,
      ...(idempotent === undefined ? {} : { idempotent }),
      execute: async (_input, context) => {
        calls.push({ name, context });
        return `${name} done`;
      },
    });
  tool('ticket');
  tool('charge', false);
  tool('lookup');
  return { registry, calls };
}

const use = (id: string, name: string): ToolUseBlock => ({ type: 'tool_use', id, name, input: {} });

async function execute(
  model: ScriptedModel,
  registry: ToolRegistry,
  journal: StepJournal,
  gate?: ToolGate,
  requireApproval?: string[],
  /** Record the last response as the turn's store does (false: leave it on runner_done). */
  storeFinalStep = true,
): Promise<{ events: RunnerEvent[]; done?: RunnerDoneEvent; error?: unknown }> {
  const runner = new AgentRunner(
    model,
    registry,
    new PriceTable(),
    {
      isUnlimited: () => true,
      reserve: async () => ({
        granted: true,
        reservation: { worstCaseUsd: 0, settle: async () => undefined },
      }),
    } as unknown as SpendGuard,
    new TurnTelemetry(new Metrics()),
  );
  const events: RunnerEvent[] = [];
  try {
    for await (const event of runner.run({
      agent,
      history: [],
      userMessage: 'hi',
      tenantId: 't',
      conversationId: 'c',
      signal: new AbortController().signal,
      journal,
      gate,
      requireApproval,
    })) {
      events.push(event);
    }
  } catch (error) {
    return { events, error };
  }
  const last = events.at(-1);
  const done = last?.type === 'runner_done' ? last : undefined;
  // As the turn's store does: the last response, which asked for no tool, is recorded with the turn.
  if (storeFinalStep && done?.final_step) await journal.record(done.final_step);
  return { events, done };
}

describe('AgentRunner with a journal', () => {
  it('records each model response before its tools run, and each tool result, in loop order', async () => {
    const { registry } = tools();
    const journal = new JournalForTest();
    const model = new ScriptedModel([
      { text: 'Opening.', toolUses: [use('t1', 'ticket')] },
      { text: 'Done.' },
    ]);
    await execute(model, registry, journal);
    expect(journal.stored.map((s) => s.kind)).toEqual(['model', 'tool', 'model']);
    expect(journal.stored[0]).toMatchObject({
      content: [{ type: 'text', text: 'Opening.' }, use('t1', 'ticket')],
      call: { id: expect.any(String), input_tokens: 100, status: 'completed' },
    });
    expect(journal.stored[1]).toMatchObject({ tool_use_id: 't1', content: 'ticket done', is_error: false });
  });

  it('leaves the last response, which asks for no tool, to whoever stores the turn: runner_done carries it', async () => {
    const { registry } = tools();
    const journal = new JournalForTest();
    const { done } = await execute(
      new ScriptedModel([{ text: 'Opening.', toolUses: [use('t1', 'ticket')] }, { text: 'Done.' }]),
      registry,
      journal,
      undefined,
      undefined,
      false,
    );
    // The loop wrote the response that asked for a tool and the tool's result, not the last response.
    expect(journal.stored.map((s) => s.kind)).toEqual(['model', 'tool']);
    expect(done!.final_step).toEqual({
      kind: 'model',
      content: [{ type: 'text', text: 'Done.' }],
      call: done!.llm_calls[1],
    });
    expect(journal.row(done!.final_step!)).toMatchObject({ step: 2, kind: 'model', tool_use_id: null });
  });

  it('replays recorded steps: no model request, no tool run, no event for them; it goes on from the first step not completed', async () => {
    const { registry, calls } = tools();
    const journal = new JournalForTest();
    const first = new ScriptedModel([
      { text: 'Opening. ', toolUses: [use('t1', 'ticket')] },
      { fail: new LlmError('overloaded', 'Overloaded') },
    ]);
    const failed = await execute(first, registry, journal);
    expect(failed.error).toBeInstanceOf(AgentTurnError);
    expect(calls).toHaveLength(1);

    const second = new ScriptedModel([{ text: 'Ticket opened.' }]);
    const { events, done } = await execute(second, registry, journal.again());
    expect(second.requests).toHaveLength(1);
    expect(calls).toHaveLength(1);
    // The request goes on from the replayed history, the tool_use answered with its recorded result.
    expect(second.requests[0].messages).toEqual([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: [{ type: 'text', text: 'Opening. ' }, use('t1', 'ticket')] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'ticket done' }] },
    ]);
    expect(events.filter((e) => e.type !== 'runner_done')).toEqual([
      { type: 'text', content: 'Ticket opened.' },
    ]);
    // The turn is whole: every message, the answer's text, both calls (the replayed one with its recorded id).
    expect(done!.messages).toHaveLength(4);
    expect(done!.response).toBe('Opening. Ticket opened.');
    expect(done!.llm_calls.map((c) => c.id)).toEqual([
      (journal.stored[0] as { call: { id: string } }).call.id,
      expect.any(String),
    ]);
    expect(done!.iterations).toBe(2);
  });

  it('a fully recorded run replays to its end without asking the model', async () => {
    const { registry } = tools();
    const journal = new JournalForTest();
    await execute(
      new ScriptedModel([{ toolUses: [use('t1', 'lookup')] }, { text: 'All done.' }]),
      registry,
      journal,
    );
    const again = new ScriptedModel([]);
    const { done } = await execute(again, registry, journal.again());
    expect(again.requests).toHaveLength(0);
    expect(done).toMatchObject({ stop_reason: 'end_turn', response: 'All done.' });
  });

  it('runs a tool_use that has no recorded result, with the same idempotency key', async () => {
    const { registry, calls } = tools();
    const journal = new JournalForTest();
    await execute(
      new ScriptedModel([{ toolUses: [use('t1', 'ticket'), use('t2', 'lookup')] }]),
      registry,
      journal,
    );
    // The execution died after the model response and the first result were recorded.
    journal.stored = journal.stored.filter((s) => !(s.kind === 'tool' && s.tool_use_id === 't2'));
    calls.length = 0;
    const { events } = await execute(new ScriptedModel([{ text: 'ok' }]), registry, journal.again());
    expect(calls.map((c) => c.name)).toEqual(['lookup']);
    expect(calls[0].context.idempotencyKey).toBe(`${journal.runId}:t2`);
    expect(events.filter((e) => e.type === 'tool_start' || e.type === 'tool_end').map((e) => e.type)).toEqual(
      ['tool_start', 'tool_end'],
    );
  });

  it('records the start of a tool that is not idempotent, and reports it as interrupted instead of running it again', async () => {
    const { registry, calls } = tools();
    const journal = new JournalForTest();
    await execute(new ScriptedModel([{ toolUses: [use('c1', 'charge')] }]), registry, journal);
    expect(journal.stored.map((s) => s.kind)).toEqual(['model', 'tool_started', 'tool', 'model']);
    // The process died mid-tool: the start is recorded, the result is not.
    journal.stored = journal.stored.slice(0, 2);
    calls.length = 0;
    const model = new ScriptedModel([{ text: 'Sorry.' }]);
    await execute(model, registry, journal.again());
    expect(calls).toHaveLength(0);
    const result = (model.requests[0].messages[2].content as unknown as Array<Record<string, unknown>>)[0];
    expect(result).toEqual({
      type: 'tool_result',
      tool_use_id: 'c1',
      content: INTERRUPTED_RESULT,
      is_error: true,
    });
    expect(journal.stored.at(-2)).toMatchObject({ kind: 'tool', tool_use_id: 'c1', is_error: true });
  });

  it('asks the gate before a call runs: a denial is an is_error result with the reason; a pause stops the loop after the other calls', async () => {
    const { registry, calls } = tools();
    const journal = new JournalForTest();
    const asked: string[] = [];
    const gate: ToolGate = {
      decide: (u) =>
        (asked.push(u.name), u.name) === 'charge'
          ? { action: 'deny', reason: 'Charges need a manager.' }
          : u.name === 'ticket'
            ? { action: 'pause' }
            : { action: 'run' },
    };
    const model = new ScriptedModel([
      { toolUses: [use('c1', 'charge'), use('t1', 'ticket'), use('l1', 'lookup')] },
    ]);
    // The conversation's approvals name charge and ticket: lookup runs without asking.
    const { events, done } = await execute(model, registry, journal, gate, ['charge', 'ticket']);
    expect(asked).toEqual(['charge', 'ticket']);
    expect(done).toBeUndefined();
    expect(events.at(-1)).toEqual({
      type: 'runner_paused',
      pending: [use('t1', 'ticket')],
      // What the run's model calls used so far: the paused run's row and its `done` carry it.
      usage: expect.objectContaining({ input_tokens: 100, output_tokens: 10, tokens_used: 110 }),
      context_tokens: 100,
      compacted: false,
    });
    expect(calls.map((c) => c.name)).toEqual(['lookup']);
    expect(journal.stored.filter((s) => s.kind === 'tool')).toEqual([
      expect.objectContaining({ tool_use_id: 'c1', content: 'Charges need a manager.', is_error: true }),
      expect.objectContaining({ tool_use_id: 'l1', is_error: false }),
    ]);

    // Executed again once the paused call may run: only it runs, and the model gets every result in order.
    const next = new ScriptedModel([{ text: 'Done.' }]);
    await execute(next, registry, journal.again(), { decide: () => ({ action: 'run' }) }, [
      'charge',
      'ticket',
    ]);
    expect(calls.map((c) => c.name)).toEqual(['lookup', 'ticket']);
    expect(next.requests[0].messages[2].content).toEqual([
      expect.objectContaining({ tool_use_id: 'c1', is_error: true }),
      expect.objectContaining({ tool_use_id: 't1', content: 'ticket done' }),
      expect.objectContaining({ tool_use_id: 'l1', content: 'lookup done' }),
    ]);
  });

  it('fails the turn with the calls made when a step cannot be recorded (they are billed all the same)', async () => {
    const { registry } = tools();
    const journal = new JournalForTest();
    journal.record = async (step) => {
      if (step.kind === 'tool') throw new Error('the database is away');
    };
    const { error } = await execute(
      new ScriptedModel([{ toolUses: [use('t1', 'lookup')] }]),
      registry,
      journal,
    );
    expect(error).toBeInstanceOf(AgentTurnError);
    expect((error as AgentTurnError).llmCalls).toHaveLength(1);
    expect((error as AgentTurnError).message).toBe('the database is away');
  });
});
