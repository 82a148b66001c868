// The one agent loop: model call, tools, model call… as a stream of events. Every transport consumes this.
import { Injectable } from '@nestjs/common';
import type { AgentDefinition } from '@lib/agents';
import type { LlmCallRecord } from '@lib/conversations';
import {
  ChatMessage,
  LlmClient,
  LlmError,
  LlmResult,
  PriceTable,
  ToolResultBlock,
  ToolUseBlock,
} from '@lib/llm';
import { ToolOutcome, ToolRegistry } from '@lib/tools';
import type { AgentEvent, RunnerEvent, StopReason, ToolEndEvent } from './agent-events';
import { summarize } from './summarize';

export interface RunRequest {
  agent: AgentDefinition;
  history: ChatMessage[];
  userMessage: string;
  tenantId: string;
  conversationId: string;
  taskId?: string;
  signal: AbortSignal;
  /** Called when an iteration (a model call and its tools) has finished and the loop goes on. */
  onIteration?: IterationHook;
  /** Conversation-level overrides of the agent's defaults. */
  temperature?: number | null;
  maxIterations?: number | null;
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

@Injectable()
export class AgentRunner {
  private readonly prices = new PriceTable();

  constructor(
    private readonly llm: LlmClient,
    private readonly tools: ToolRegistry,
  ) {}

  async *run(request: RunRequest): AsyncGenerator<RunnerEvent> {
    const { agent, signal } = request;
    const maxIterations = request.maxIterations ?? agent.maxIterations;
    const model = this.llm.modelFor(agent.model);
    const toolSpecs = this.tools.specs(agent.tools);
    const turn: ChatMessage[] = [{ role: 'user', content: request.userMessage }];
    const calls: LlmCallRecord[] = [];
    let response = '';
    let stopReason: StopReason;
    let iterations = 0;

    while (true) {
      if (signal.aborted) {
        stopReason = 'cancelled';
        break;
      }
      iterations += 1;
      let result: LlmResult | undefined;
      let partial = '';
      try {
        for await (const event of this.llm.stream({
          model,
          system: agent.systemPrompt,
          messages: [...request.history, ...turn],
          tools: toolSpecs,
          temperature: request.temperature ?? agent.temperature,
          maxTokens: agent.maxTokens,
          signal,
        })) {
          if (event.type === 'text') {
            partial += event.text;
            response += event.text;
            yield { type: 'text', content: event.text };
          } else {
            result = event.result;
          }
        }
      } catch (error) {
        if (error instanceof LlmError && error.kind === 'aborted') {
          // Keep what the client already saw; an unfinished tool_use is dropped with the call.
          if (partial) turn.push({ role: 'assistant', content: [{ type: 'text', text: partial }] });
          stopReason = 'cancelled';
          break;
        }
        throw new AgentTurnError(error, calls);
      }
      if (!result)
        throw new AgentTurnError(
          new LlmError('connection', 'The model stream ended without a message.'),
          calls,
        );
      calls.push(this.callRecord(result));

      const content = result.content.filter((b) => !(b.type === 'text' && b.text === ''));
      if (content.length) turn.push({ role: 'assistant', content });
      const toolUses = content.filter((b): b is ToolUseBlock => b.type === 'tool_use');
      if (!toolUses.length) {
        stopReason = result.stop_reason === 'max_tokens' ? 'max_tokens' : 'end_turn';
        break;
      }
      // Every tool_use gets its tool_result, whatever happens next: the provider refuses a history without.
      if (signal.aborted) {
        turn.push({ role: 'user', content: toolUses.map((u) => cancelledResult(u)) });
        stopReason = 'cancelled';
        break;
      }
      const results: ToolResultBlock[] = [];
      for await (const event of this.runTools(toolUses, request, results)) yield event;
      turn.push({ role: 'user', content: results });
      if (signal.aborted) {
        stopReason = 'cancelled';
        break;
      }
      if (iterations >= maxIterations) {
        stopReason = 'max_iterations';
        break;
      }
      // A failing hook (e.g. progress not recorded) must not fail the turn it only observes.
      await (async () => request.onIteration?.({ iteration: iterations, maxIterations }))().catch(
        () => undefined,
      );
    }

    const input = calls.reduce(
      (n, c) => n + c.input_tokens + c.cache_creation_input_tokens + c.cache_read_input_tokens,
      0,
    );
    const output = calls.reduce((n, c) => n + c.output_tokens, 0);
    const cost = calls.reduce((n, c) => n + c.cost_usd, 0);
    yield {
      type: 'runner_done',
      stop_reason: stopReason,
      response,
      messages: turn,
      llm_calls: calls,
      usage: {
        input_tokens: input,
        output_tokens: output,
        tokens_used: input + output,
        cost_usd: Math.round(cost * 1e8) / 1e8,
      },
      iterations,
    };
  }

  /** Runs the tools concurrently, emitting tool_end as each finishes; results land in request order. */
  private async *runTools(
    toolUses: ToolUseBlock[],
    request: RunRequest,
    results: ToolResultBlock[],
  ): AsyncGenerator<AgentEvent> {
    for (const use of toolUses) {
      yield { type: 'tool_start', tool_name: use.name, tool_use_id: use.id, arguments: use.input };
    }
    const pending = new Map<string, Promise<{ use: ToolUseBlock; outcome: ToolOutcome }>>();
    for (const use of toolUses) {
      pending.set(
        use.id,
        this.tools
          .execute(use.name, use.input, {
            tenantId: request.tenantId,
            conversationId: request.conversationId,
            taskId: request.taskId,
            toolUseId: use.id,
            signal: request.signal,
            allowedTools: request.agent.tools,
          })
          .then((outcome) => ({ use, outcome })),
      );
    }
    const outcomes = new Map<string, ToolOutcome>();
    while (pending.size) {
      const { use, outcome } = await Promise.race(pending.values());
      pending.delete(use.id);
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
    for (const use of toolUses) {
      const outcome = outcomes.get(use.id)!;
      results.push({
        type: 'tool_result',
        tool_use_id: use.id,
        content: outcome.content,
        ...(outcome.is_error ? { is_error: true } : {}),
      });
    }
  }

  private callRecord(result: LlmResult): LlmCallRecord {
    const { costUsd } = this.prices.cost(result.model, result.usage);
    return {
      model: result.model,
      input_tokens: result.usage.input_tokens,
      output_tokens: result.usage.output_tokens,
      cache_creation_input_tokens: result.usage.cache_creation_input_tokens,
      cache_read_input_tokens: result.usage.cache_read_input_tokens,
      cost_usd: costUsd,
      latency_ms: Math.round(result.latency_ms),
      time_to_first_token_ms:
        result.time_to_first_token_ms === null ? null : Math.round(result.time_to_first_token_ms),
      stop_reason: result.stop_reason,
    };
  }
}

function cancelledResult(use: ToolUseBlock): ToolResultBlock {
  return { type: 'tool_result', tool_use_id: use.id, content: CANCELLED_RESULT, is_error: true };
}
