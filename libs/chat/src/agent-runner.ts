// The one agent loop: model call, tools, model call… as a stream of events. Every transport consumes this.
import { Injectable, Optional } from '@nestjs/common';
import { AgentDefinition, approvalTools } from '@lib/agents';
import type { LlmCallRecord } from '@lib/conversations';
import {
  ChatMessage,
  ContentBlock,
  contextOverflowError,
  estimateInputTokens,
  LlmClient,
  LlmError,
  LlmRequest,
  LlmResult,
  PartialCall,
  PriceTable,
  ToolResultBlock,
  ToolUseBlock,
  UserMessage,
  worstCaseUsd,
} from '@lib/llm';
import { ToolOutcome, ToolRegistry } from '@lib/tools';
import { FirstCall, SpendGuard, SpendReservation } from '@lib/usage';
import type {
  AgentEvent,
  RunnerEvent,
  RunnerPausedEvent,
  StopReason,
  ToolEndEvent,
  TurnUsage,
} from './agent-events';
import { ModelStep, ReplayedIteration, replayPlan, StepJournal, ToolGate, ToolStep } from './step-journal';
import { callRecordOf, partialCallRecordOf } from './call-record';
import { ContextWindow, PreparedRequest, TurnContext } from './context-window';
import { summarize } from './summarize';
import { TurnTelemetry, TurnTrace } from './turn-telemetry';

export interface RunRequest {
  agent: AgentDefinition;
  history: ChatMessage[];
  /** A string or text, image and document blocks: stored and sent as given. */
  userMessage: UserMessage;
  tenantId: string;
  conversationId: string;
  /** The tools this conversation added to those whose calls wait for a decision (see ToolGate). */
  requireApproval?: readonly string[];
  taskId?: string;
  signal: AbortSignal;
  /** Called when an iteration (a model call and its tools) has finished and the loop goes on. */
  onIteration?: IterationHook;
  /** Conversation-level overrides of the agent's defaults. */
  temperature?: number | null;
  maxIterations?: number | null;
  /** The API key whose request runs the turn (a task: the key that created it); recorded on each model call. */
  apiKeyId?: string | null;
  /** The conversation's own cost ceiling (null: CONVERSATION_COST_LIMIT_USD). */
  costLimitUsd?: number | null;
  /** What the conversation has cost before this turn, as stored. */
  spentUsd?: number;
  /**
   * The run's journal: each completed step is recorded as it completes, and the steps an earlier execution of the
   * run recorded are replayed instead of being asked for or run again (see StepJournal). Omitted: nothing is
   * recorded (a turn outside any run).
   */
  journal?: StepJournal;
  /** Decides, before each tool call runs, whether it runs, is denied or waits (see ToolGate). Omitted: it runs. */
  gate?: ToolGate;
  /** The conversation's own context budget in tokens (null: the agent's, else the model's window). */
  maxContextTokens?: number | null;
}

/** Progress of a turn: `iteration` model calls (with their tools) are done, of at most `maxIterations`. */
export type IterationHook = (progress: { iteration: number; maxIterations: number }) => Promise<void> | void;

/** A turn that failed; `llmCalls` are the calls made (and billed) before it did. */
export class AgentTurnError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly llmCalls: LlmCallRecord[],
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'AgentTurnError';
  }
}

const CANCELLED_RESULT = 'The turn was cancelled before this tool ran.';
/** What the model is told of a call of an `idempotent: false` tool that started but never recorded a result. */
export const INTERRUPTED_RESULT =
  'This tool call was interrupted before its result was recorded (the process running it stopped), and this ' +
  'tool is not safe to retry: it may or may not have taken effect. Tell the user, or check before calling it again.';

@Injectable()
export class AgentRunner {
  constructor(
    private readonly llm: LlmClient,
    private readonly tools: ToolRegistry,
    private readonly prices: PriceTable,
    private readonly spend: SpendGuard,
    private readonly telemetry: TurnTelemetry,
    /** Keeps each request within the context budget; without it (unit tests) the whole history is sent. */
    @Optional() private readonly context?: ContextWindow,
  ) {}

  /** The turn inside its `agent.turn` span: model calls and tools nest under it. */
  async *run(request: RunRequest): AsyncGenerator<RunnerEvent> {
    const trace = this.telemetry.startTurn(request);
    try {
      for await (const event of trace.bind(this.loop(request, trace))) {
        if (event.type === 'runner_done') trace.finished(event);
        yield event;
      }
    } catch (error) {
      trace.failed(error);
      throw error;
    } finally {
      trace.end();
    }
  }

  private async *loop(request: RunRequest, trace: TurnTrace): AsyncGenerator<RunnerEvent> {
    const { agent, signal } = request;
    const maxIterations = request.maxIterations ?? agent.maxIterations;
    const model = this.llm.modelFor(agent.model);
    // Per tenant: an agent's MCP tools are the calling tenant's (and every tenant's) servers' tools.
    const toolSpecs = await this.tools.specsFor(request.tenantId, agent.tools);
    const turn: ChatMessage[] = [{ role: 'user', content: request.userMessage }];
    const calls: LlmCallRecord[] = [];
    const journal = request.journal;
    // The iterations an earlier execution of the run completed (or started): replayed in order, then the loop goes on.
    const replay = replayPlan(journal?.recorded ?? []);
    let response = '';
    let stopReason: StopReason;
    let iterations = 0;
    const context = await this.openContext(request, model, toolSpecs, calls);
    // The input tokens of the turn's last model call (cache reads and writes included), and whether it recovered
    // once from a "prompt is too long".
    let contextTokens = 0;
    let overflowRecovered = false;
    // The last model response when it asked for no tool: the journal gets it with the stored turn.
    let finalStep: ModelStep | undefined;
    // After a step, live or replayed: the turn stops (a reason), ends paused (the event to yield), or goes on.
    const next = (outcome: {
      stop?: StopReason;
      paused?: ToolUseBlock[];
    }): StopReason | RunnerPausedEvent | undefined => {
      if (outcome.stop) return outcome.stop;
      if (outcome.paused) {
        return {
          type: 'runner_paused',
          pending: outcome.paused,
          usage: turnUsage(calls),
          context_tokens: contextTokens,
          compacted: context?.compacted ?? false,
        };
      }
      return iterations >= maxIterations ? 'max_iterations' : undefined;
    };

    while (true) {
      if (signal.aborted) {
        stopReason = 'cancelled';
        break;
      }
      const replayed: ReplayedIteration | undefined = replay[iterations];
      if (replayed) {
        // Recorded by an earlier execution: no provider request, no reservation, no event (followers had them).
        iterations += 1;
        calls.push(replayed.call);
        const replayedCall = replayed.call;
        contextTokens =
          replayedCall.input_tokens +
          replayedCall.cache_creation_input_tokens +
          replayedCall.cache_read_input_tokens;
        for (const block of replayed.content) if (block.type === 'text') response += block.text;
        const ending = next(
          yield* this.step(
            calls,
            this.afterModelStep(request, trace, turn, replayed.content, replayed.call.stop_reason, replayed),
          ),
        );
        if (typeof ending === 'object') {
          yield ending;
          return;
        }
        if (ending) {
          stopReason = ending;
          break;
        }
        continue;
      }
      const prepared = await this.prepareContext(context, request, turn, calls);
      if (prepared === 'cancelled' || prepared.stop) {
        stopReason = prepared === 'cancelled' ? 'cancelled' : 'cost_limit';
        break;
      }
      const llmRequest: LlmRequest = {
        model,
        system: agent.systemPrompt,
        messages: prepared.messages,
        tools: toolSpecs,
        temperature: request.temperature ?? agent.temperature,
        ...samplingFor(agent, prepared.maxTokens),
        signal,
        tenantId: request.tenantId,
      };
      // The call's worst case is reserved against the budgets first: a call that does not fit is not made.
      const reservation = await this.reserve(request, llmRequest, calls);
      if (!reservation) {
        stopReason = 'cost_limit';
        break;
      }
      iterations += 1;
      let result: LlmResult | undefined;
      let partial = '';
      // What the provider billed of this call's attempts that did not finish: settled with the call.
      let billedUsd = 0;
      const modelCall = trace.modelCall(llmRequest.model);
      try {
        for await (const event of modelCall.bind(this.llm.stream(llmRequest))) {
          if (event.type === 'text') {
            partial += event.text;
            response += event.text;
            yield { type: 'text', content: event.text };
          } else if (event.type === 'thinking') {
            // Never stored from here: only the signed block of a finished call is (an unsigned one is refused later).
            yield { type: 'thinking', content: event.thinking };
          } else if (event.type === 'attempt_failed') {
            const attempt = this.partialRecord(event.error, request);
            modelCall.attemptFailed(attempt);
            calls.push(attempt);
            billedUsd += attempt.cost_usd;
          } else {
            result = event.result;
          }
        }
      } catch (error) {
        const billed = isBilled(error) ? this.partialRecord(error, request) : undefined;
        modelCall.failed(error, billed);
        if (billed) {
          calls.push(billed);
          billedUsd += billed.cost_usd;
        }
        await reservation.settle(billedUsd).catch(() => undefined);
        if (error instanceof LlmError && error.kind === 'aborted') {
          // Keep what the client already saw; an unfinished tool_use is dropped with the call.
          if (partial.trim()) turn.push({ role: 'assistant', content: [{ type: 'text', text: partial }] });
          stopReason = 'cancelled';
          break;
        }
        // Longer than the model takes: compact further and try once more, so the conversation never gets stuck.
        const overflow = contextOverflowError(error);
        if (overflow && context && !overflowRecovered) {
          overflowRecovered = true;
          context.tighten(overflow, prepared);
          iterations -= 1;
          continue;
        }
        throw new AgentTurnError(error, calls);
      }
      if (!result) {
        modelCall.failed(new LlmError('connection', 'The model stream ended without a message.'));
        await reservation.settle(billedUsd).catch(() => undefined);
        throw new AgentTurnError(
          new LlmError('connection', 'The model stream ended without a message.'),
          calls,
        );
      }
      const call: LlmCallRecord = {
        ...this.callRecord(result, request),
        ...(journal ? { id: journal.newCallId() } : {}),
      };
      modelCall.succeeded(call);
      calls.push(call);
      contextTokens = call.input_tokens + call.cache_creation_input_tokens + call.cache_read_input_tokens;
      try {
        await reservation.settle(billedUsd + call.cost_usd);
      } catch (error) {
        throw new AgentTurnError(error, calls);
      }

      // The provider refuses an empty or whitespace-only text block in every later request: never store one.
      const content = result.content.filter((b) => !(b.type === 'text' && !b.text.trim()));
      if (journal && !signal.aborted) {
        if (content.some((b) => b.type === 'tool_use')) {
          // Stored before any of its tools runs: an execution that dies from here on never asks the model again.
          try {
            await journal.record({ kind: 'model', content, call });
          } catch (error) {
            throw new AgentTurnError(error, calls);
          }
        } else {
          // A response without tool calls ends the turn (afterModelStep): nothing runs between it and the
          // statement that stores the turn, which records it (see RunnerDoneEvent.final_step).
          finalStep = { kind: 'model', content, call };
        }
      }
      const ending = next(
        yield* this.step(
          calls,
          this.afterModelStep(request, trace, turn, content, result.stop_reason, undefined),
        ),
      );
      if (typeof ending === 'object') {
        yield ending;
        return;
      }
      if (ending) {
        stopReason = ending;
        break;
      }
      // A failing hook (e.g. progress not recorded) must not fail the turn it only observes.
      await (async () => request.onIteration?.({ iteration: iterations, maxIterations }))().catch(
        () => undefined,
      );
    }

    yield {
      type: 'runner_done',
      stop_reason: stopReason,
      response,
      messages: turn,
      llm_calls: calls,
      usage: turnUsage(calls),
      iterations,
      context_tokens: contextTokens,
      compacted: context?.compacted ?? false,
      ...(finalStep ? { final_step: finalStep } : {}),
    };
  }

  /** Passes a step's events on; a failure in it (a journal write, a gate) fails the turn with the calls made. */
  private async *step<T>(
    calls: LlmCallRecord[],
    events: AsyncGenerator<RunnerEvent, T>,
  ): AsyncGenerator<RunnerEvent, T> {
    try {
      return yield* events;
    } catch (error) {
      throw error instanceof AgentTurnError ? error : new AgentTurnError(error, calls);
    }
  }

  /**
   * What follows a model response, live or replayed: it joins the turn; without tool calls the turn ends, else its
   * tools run (those with a recorded result are replayed) and their results join the turn. `paused`: the gate held
   * back some calls (the loop ends with `runner_paused`).
   */
  private async *afterModelStep(
    request: RunRequest,
    trace: TurnTrace,
    turn: ChatMessage[],
    content: ContentBlock[],
    modelStopReason: string,
    replayed: ReplayedIteration | undefined,
  ): AsyncGenerator<RunnerEvent, { stop?: StopReason; paused?: ToolUseBlock[] }> {
    if (content.length) turn.push({ role: 'assistant', content });
    const toolUses = content.filter((b): b is ToolUseBlock => b.type === 'tool_use');
    if (!toolUses.length) return { stop: modelStopReason === 'max_tokens' ? 'max_tokens' : 'end_turn' };
    // Every tool_use gets its tool_result, whatever happens next: the provider refuses a history without.
    if (request.signal.aborted) {
      turn.push({ role: 'user', content: toolUses.map((u) => cancelledResult(u)) });
      return { stop: 'cancelled' };
    }
    const results: ToolResultBlock[] = [];
    const paused: ToolUseBlock[] = [];
    for await (const event of this.runTools(toolUses, request, results, paused, trace, replayed)) yield event;
    if (paused.length) {
      // The step's other results are recorded; its paused calls run (or are denied) when the run is executed again.
      return { paused };
    }
    turn.push({ role: 'user', content: results });
    if (request.signal.aborted) return { stop: 'cancelled' };
    return {};
  }

  /**
   * Runs a step's tools concurrently, emitting tool_end as each finishes; results land in request order. A call
   * with a recorded result is replayed (no event); a call of a non-idempotent tool that started but never recorded
   * a result gets INTERRUPTED_RESULT; every other call passes the gate and runs, and its result is recorded.
   */
  private async *runTools(
    toolUses: ToolUseBlock[],
    request: RunRequest,
    results: ToolResultBlock[],
    paused: ToolUseBlock[],
    trace: TurnTrace,
    replayed: ReplayedIteration | undefined,
  ): AsyncGenerator<AgentEvent> {
    const journal = request.journal;
    // The calls that wait for a decision: the agent version's approvals and those the conversation added.
    const gated = request.gate ? new Set(approvalTools(request.agent, request.requireApproval)) : undefined;
    const outcomes = new Map<string, Pick<ToolStep, 'content' | 'is_error'>>();
    const live: Array<{ use: ToolUseBlock; run: () => Promise<ToolOutcome> }> = [];
    for (const use of toolUses) {
      const recorded = replayed?.results.get(use.id);
      if (recorded) {
        outcomes.set(use.id, recorded);
        continue;
      }
      if (replayed?.started.has(use.id) && !this.tools.isIdempotent(use.name)) {
        live.push({ use, run: async () => syntheticOutcome(use, INTERRUPTED_RESULT) });
        continue;
      }
      const decision = gated?.has(use.name)
        ? await request.gate!.decide(use, {
            runId: journal?.runId,
            tenantId: request.tenantId,
            conversationId: request.conversationId,
          })
        : RUN;
      if (decision.action === 'pause') {
        paused.push(use);
        continue;
      }
      if (decision.action === 'deny') {
        live.push({ use, run: async () => syntheticOutcome(use, decision.reason) });
        continue;
      }
      live.push({ use, run: () => this.executeTool(use, request, trace) });
    }
    for (const { use } of live) {
      yield { type: 'tool_start', tool_name: use.name, tool_use_id: use.id, arguments: use.input };
    }
    const pending = new Map<string, Promise<{ use: ToolUseBlock; outcome: ToolOutcome }>>();
    for (const { use, run } of live) {
      pending.set(
        use.id,
        run().then(async (outcome) => {
          // A call cut short by a cancel is not a result to replay: the run that is cancelled never runs again.
          if (journal && !request.signal.aborted) {
            await journal.record({
              kind: 'tool',
              tool_use_id: use.id,
              tool_name: use.name,
              content: outcome.content,
              is_error: outcome.is_error,
              duration_ms: outcome.duration_ms,
            });
          }
          return { use, outcome };
        }),
      );
    }
    // A failed journal write fails the turn, but only once every call has finished: nothing runs unobserved.
    let failure: { error: unknown } | undefined;
    while (pending.size) {
      const settled = await Promise.race(
        [...pending.entries()].map(([id, p]) =>
          p.then(
            (value) => ({ id, value }),
            (error: unknown) => ({ id, error }),
          ),
        ),
      );
      pending.delete(settled.id);
      if ('error' in settled) {
        failure ??= { error: settled.error };
        continue;
      }
      const { use, outcome } = settled.value;
      outcomes.set(use.id, outcome);
      const event: ToolEndEvent = {
        type: 'tool_end',
        tool_name: use.name,
        tool_use_id: use.id,
        duration_ms: outcome.duration_ms,
        is_error: outcome.is_error,
        result_summary: summarize(outcome.content),
      };
      yield event;
    }
    if (failure) throw failure.error;
    for (const use of toolUses) {
      const outcome = outcomes.get(use.id);
      if (!outcome) continue;
      results.push({
        type: 'tool_result',
        tool_use_id: use.id,
        content: outcome.content,
        ...(outcome.is_error ? { is_error: true } : {}),
      });
    }
  }

  /** One call through the registry; a non-idempotent tool's start is recorded first (see Tool.idempotent). */
  private async executeTool(use: ToolUseBlock, request: RunRequest, trace: TurnTrace): Promise<ToolOutcome> {
    const journal = request.journal;
    if (journal && !this.tools.isIdempotent(use.name)) {
      await journal.record({ kind: 'tool_started', tool_use_id: use.id, tool_name: use.name });
    }
    return trace.tool(use.name, use.id, () =>
      this.tools.execute(use.name, use.input, {
        tenantId: request.tenantId,
        conversationId: request.conversationId,
        taskId: request.taskId,
        toolUseId: use.id,
        idempotencyKey: `${journal?.runId ?? request.taskId ?? 'none'}:${use.id}`,
        signal: request.signal,
        allowedTools: request.agent.tools,
      }),
    );
  }

  /** The turn's context (its conversation's summary and clearing loaded), or null without a ContextWindow. */
  private async openContext(
    request: RunRequest,
    model: string,
    tools: LlmRequest['tools'],
    calls: LlmCallRecord[],
  ): Promise<TurnContext | null> {
    if (!this.context) return null;
    try {
      return await this.context.open({
        tenantId: request.tenantId,
        conversationId: request.conversationId,
        agent: request.agent,
        model,
        system: request.agent.systemPrompt,
        tools,
        history: request.history,
        maxTokens: request.agent.maxTokens,
        maxContextTokens: request.maxContextTokens,
        signal: request.signal,
        apiKeyId: request.apiKeyId,
        taskId: request.taskId,
        spend: { conversationLimitUsd: request.costLimitUsd, conversationSpentUsd: request.spentUsd },
      });
    } catch (error) {
      throw new AgentTurnError(error, calls);
    }
  }

  /** The messages of the next call, within the context budget (a compaction's summary calls go into `calls`). */
  private async prepareContext(
    context: TurnContext | null,
    request: RunRequest,
    turn: ChatMessage[],
    calls: LlmCallRecord[],
  ): Promise<PreparedRequest | { stop: 'cost_limit' } | 'cancelled'> {
    if (!context) {
      const messages = [...request.history, ...turn];
      return { messages, maxTokens: request.agent.maxTokens, tokens: 0, compacted: false };
    }
    const before = calls.length;
    try {
      return await context.prepare(turn, calls);
    } catch (error) {
      if (error instanceof LlmError && error.kind === 'aborted') return 'cancelled';
      throw new AgentTurnError(error, calls);
    } finally {
      // A compaction's summary calls are billed like the loop's own: in the token and cost series too.
      for (const call of calls.slice(before)) this.telemetry.billed(request.agent.name, call.model, call);
    }
  }

  /** What a turn's first call will reserve (the same estimate run() makes): what a budget must still fit. */
  firstCall(
    agent: AgentDefinition,
    userMessage: UserMessage,
    history: ChatMessage[] = [],
    maxContextTokens?: number | null,
  ): FirstCall {
    let inputTokens: number | undefined;
    const model = this.llm.modelFor(agent.model);
    // A long history is compacted to the context budget before it is sent: no call reserves more than that.
    const ceiling = this.context
      ? this.context.budgetOf(model, agent, maxContextTokens)
      : Number.POSITIVE_INFINITY;
    const estimate = () =>
      Math.min(
        ceiling,
        estimateInputTokens({
          system: agent.systemPrompt,
          messages: [...history, { role: 'user', content: userMessage }],
          tools: this.tools.specs(agent.tools),
        }),
      );
    return {
      model,
      maxTokens: thinkingSettings(agent).maxTokens,
      // Estimated when read: with no budget or ceiling configured, nobody reads it.
      get inputTokens() {
        return (inputTokens ??= estimate());
      },
    };
  }

  /** The reservation of the call's worst case, or null when a budget has no room for it. */
  private async reserve(
    request: RunRequest,
    llmRequest: LlmRequest,
    calls: LlmCallRecord[],
  ): Promise<SpendReservation | null> {
    // With no ceiling or budget the reservation is free: no need to serialise the prompt to estimate it.
    const worst = this.spend.isUnlimited({ conversationLimitUsd: request.costLimitUsd })
      ? 0
      : worstCaseUsd(
          this.prices.priceOf(llmRequest.model).price,
          estimateInputTokens(llmRequest),
          llmRequest.maxTokens,
        );
    try {
      const outcome = await this.spend.reserve(
        {
          tenantId: request.tenantId,
          conversationId: request.conversationId,
          conversationLimitUsd: request.costLimitUsd,
          conversationSpentUsd: request.spentUsd,
        },
        worst,
      );
      return outcome.granted ? outcome.reservation : null;
    } catch (error) {
      throw new AgentTurnError(error, calls);
    }
  }

  /**
   * The record of a call that did not finish but that the provider had started answering (its `partial`):
   * `cancelled` when the turn was, else `failed`.
   */
  private partialRecord(error: LlmError & { partial: PartialCall }, request: RunRequest): LlmCallRecord {
    return partialCallRecordOf(this.prices, error, this.llm.modelFor(request.agent.model), request);
  }

  private callRecord(
    result: Omit<LlmResult, 'stop_reason'> & { stop_reason?: string },
    request: RunRequest,
  ): LlmCallRecord {
    return callRecordOf(this.prices, result, request);
  }
}

/** What the calls of a turn used, summed as the contract counts them (input includes cache reads and writes). */
function turnUsage(calls: LlmCallRecord[]): TurnUsage {
  const input = calls.reduce(
    (n, c) => n + c.input_tokens + c.cache_creation_input_tokens + c.cache_read_input_tokens,
    0,
  );
  const output = calls.reduce((n, c) => n + c.output_tokens, 0);
  const cost = calls.reduce((n, c) => n + c.cost_usd, 0);
  return {
    input_tokens: input,
    output_tokens: output,
    tokens_used: input + output,
    cache_read_input_tokens: calls.reduce((n, c) => n + c.cache_read_input_tokens, 0),
    cache_creation_input_tokens: calls.reduce((n, c) => n + c.cache_creation_input_tokens, 0),
    cost_usd: Math.round(cost * 1e8) / 1e8,
  };
}

/**
 * The call's token limit and thinking budget. The provider counts thinking in `max_tokens` and wants the budget
 * below it (the agents API checks that); an agent stored before that check still gets a valid request, with room
 * for an answer beside its budget.
 */
export function thinkingSettings(agent: AgentDefinition): Pick<LlmRequest, 'maxTokens' | 'thinking'> {
  const budget = agent.thinkingBudgetTokens;
  if (!budget) return { maxTokens: agent.maxTokens };
  const maxTokens = agent.maxTokens > budget ? agent.maxTokens : budget + MIN_ANSWER_TOKENS;
  return { maxTokens, thinking: { budgetTokens: budget } };
}

/**
 * `max_tokens` and thinking of a call whose context left `maxTokens` for the answer: the agent's own settings, unless
 * the context had to lower `max_tokens` (one turn nearly as large as the window), when thinking goes if it no
 * longer fits under it.
 */
function samplingFor(agent: AgentDefinition, maxTokens: number): Pick<LlmRequest, 'maxTokens' | 'thinking'> {
  const settings = thinkingSettings(agent);
  if (maxTokens >= agent.maxTokens) return settings;
  const thinking =
    settings.thinking && settings.thinking.budgetTokens < maxTokens ? settings.thinking : undefined;
  return { maxTokens, ...(thinking ? { thinking } : {}) };
}

/** The room an answer gets beside a thinking budget that would take all of `maxTokens`. */
const MIN_ANSWER_TOKENS = 1024;

/** A failure the provider had already started answering, so it billed part of the call. */
function isBilled(error: unknown): error is LlmError & { partial: PartialCall } {
  return error instanceof LlmError && error.partial !== undefined;
}

const RUN = { action: 'run' } as const;

/** The outcome of a call that does not run (denied, or interrupted and not safe to retry): an error the model reads. */
function syntheticOutcome(use: ToolUseBlock, content: string): ToolOutcome {
  return { tool_use_id: use.id, tool_name: use.name, content, is_error: true, duration_ms: 0 };
}

function cancelledResult(use: ToolUseBlock): ToolResultBlock {
  return { type: 'tool_result', tool_use_id: use.id, content: CANCELLED_RESULT, is_error: true };
}
