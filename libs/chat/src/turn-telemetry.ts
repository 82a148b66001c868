// Traces and metrics of the agent loop: an `agent.turn` span around a turn, an `llm.call` span per model call
// (model, tokens, cost, time to first token) and a `tool.execute` span per tool, with the matching Prometheus
// series. The runner only reports what happened; the span names, attributes and labels live here.
import { Injectable } from '@nestjs/common';
import { Context, context, isSpanContextValid, Span, SpanKind, trace } from '@opentelemetry/api';
import type { AgentDefinition } from '@lib/agents';
import type { LlmCallRecord } from '@lib/conversations';
import {
  llmCallDuration,
  llmCost,
  llmTimeToFirstToken,
  llmTokens,
  Metrics,
  recordSpanError,
  toolDuration,
  tracer,
} from '@lib/core';
import { LlmError } from '@lib/llm';
import type { ToolOutcome } from '@lib/tools';

export interface TurnScope {
  agent: AgentDefinition;
  tenantId: string;
  conversationId: string;
  taskId?: string;
}

export interface TurnSummary {
  stop_reason: string;
  iterations: number;
  usage: { input_tokens: number; output_tokens: number; cost_usd: number };
}

@Injectable()
export class TurnTelemetry {
  private readonly callDuration: ReturnType<typeof llmCallDuration>;
  private readonly firstToken: ReturnType<typeof llmTimeToFirstToken>;
  private readonly tokens: ReturnType<typeof llmTokens>;
  private readonly cost: ReturnType<typeof llmCost>;
  private readonly toolDuration: ReturnType<typeof toolDuration>;
  /** Input tokens by agent since the process started: all of them, and those read from the prompt cache. */
  private readonly cacheTotals = new Map<string, { input: number; read: number }>();

  constructor(metrics: Metrics) {
    this.callDuration = llmCallDuration(metrics);
    this.firstToken = llmTimeToFirstToken(metrics);
    this.tokens = llmTokens(metrics);
    this.cost = llmCost(metrics);
    this.toolDuration = toolDuration(metrics);
    const totals = this.cacheTotals;
    metrics.gauge(
      'llm_prompt_cache_hit_ratio',
      "The share of the agent's model-call input tokens read from the provider's prompt cache since the process started.",
      ['agent'],
      function collect() {
        for (const [agent, { input, read }] of totals) if (input > 0) this.set({ agent }, read / input);
      },
    );
  }

  /** Opens the turn's span under the active context (the HTTP request, socket event or task job). */
  startTurn(scope: TurnScope): TurnTrace {
    const span = tracer().startSpan('agent.turn', {
      kind: SpanKind.INTERNAL,
      attributes: {
        'agent.name': scope.agent.name,
        'tenant.id': scope.tenantId,
        'conversation.id': scope.conversationId,
        ...(scope.taskId ? { 'task.id': scope.taskId } : {}),
      },
    });
    return new TurnTrace(this, scope.agent.name, span, trace.setSpan(context.active(), span));
  }

  /** @internal */
  modelCallEnded(agent: string, model: string, outcome: string, seconds: number, call?: LlmCallRecord): void {
    this.callDuration.observe({ agent, model, outcome }, seconds);
    if (!call) return;
    if (call.time_to_first_token_ms !== null) {
      this.firstToken.observe({ agent, model }, call.time_to_first_token_ms / 1000);
    }
    this.billed(agent, model, call);
  }

  /** The tokens and cost of a call, finished or not (a cancelled or failed call is billed what it used). */
  billed(agent: string, model: string, call: LlmCallRecord): void {
    const counts: Array<[string, number]> = [
      ['input', call.input_tokens],
      ['output', call.output_tokens],
      ['cache_write', call.cache_creation_input_tokens],
      ['cache_read', call.cache_read_input_tokens],
    ];
    for (const [kind, count] of counts) if (count > 0) this.tokens.inc({ agent, model, kind }, count);
    const totals = this.cacheTotals.get(agent) ?? { input: 0, read: 0 };
    totals.input += call.input_tokens + call.cache_creation_input_tokens + call.cache_read_input_tokens;
    totals.read += call.cache_read_input_tokens;
    this.cacheTotals.set(agent, totals);
    if (call.cost_usd > 0) this.cost.inc({ agent, model }, call.cost_usd);
  }

  /** @internal */
  toolEnded(tool: string, outcome: ToolOutcome): void {
    this.toolDuration.observe(
      { tool, outcome: outcome.is_error ? 'error' : 'ok' },
      outcome.duration_ms / 1000,
    );
  }
}

/** One turn's span; model calls and tools open theirs beneath it. */
export class TurnTrace {
  constructor(
    private readonly telemetry: TurnTelemetry,
    private readonly agent: string,
    private readonly span: Span,
    readonly context: Context,
  ) {}

  /** Runs each step of `steps` inside the turn's context, so what it calls (Redis, PostgreSQL) nests under it. */
  bind<T>(steps: AsyncIterable<T>): AsyncIterable<T> {
    return bound(this.span, this.context, steps);
  }

  modelCall(model: string): ModelCallTrace {
    const span = tracer().startSpan(
      'llm.call',
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': model,
          'agent.name': this.agent,
        },
      },
      this.context,
    );
    return new ModelCallTrace(this.telemetry, this.agent, model, span, trace.setSpan(this.context, span));
  }

  /** Runs one tool call in its `tool.execute` span. */
  async tool(name: string, toolUseId: string, execute: () => Promise<ToolOutcome>): Promise<ToolOutcome> {
    const span = tracer().startSpan(
      'tool.execute',
      { kind: SpanKind.INTERNAL, attributes: { 'tool.name': name, 'tool.use_id': toolUseId } },
      this.context,
    );
    try {
      const outcome = await context.with(trace.setSpan(this.context, span), execute);
      span.setAttributes({ 'tool.is_error': outcome.is_error, 'tool.duration_ms': outcome.duration_ms });
      this.telemetry.toolEnded(name, outcome);
      return outcome;
    } catch (error) {
      recordSpanError(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  finished(summary: TurnSummary): void {
    this.span.setAttributes({
      'turn.stop_reason': summary.stop_reason,
      'turn.iterations': summary.iterations,
      'gen_ai.usage.input_tokens': summary.usage.input_tokens,
      'gen_ai.usage.output_tokens': summary.usage.output_tokens,
      'llm.cost_usd': summary.usage.cost_usd,
    });
  }

  failed(error: unknown): void {
    recordSpanError(this.span, error);
  }

  end(): void {
    this.span.end();
  }
}

/** One model call's span and metrics; ends with `succeeded` or `failed`. */
export class ModelCallTrace {
  private readonly startedAt = performance.now();
  private ended = false;

  constructor(
    private readonly telemetry: TurnTelemetry,
    private readonly agent: string,
    private readonly model: string,
    private readonly span: Span,
    private readonly context: Context,
  ) {}

  /** Runs each step of the provider stream inside the call's context (rate limiter, key pool, HTTP). */
  bind<T>(steps: AsyncIterable<T>): AsyncIterable<T> {
    return bound(this.span, this.context, steps);
  }

  succeeded(call: LlmCallRecord): void {
    if (this.ended) return;
    this.ended = true;
    this.span.setAttributes({
      'gen_ai.response.model': call.model,
      'gen_ai.response.finish_reasons': [call.stop_reason],
      'gen_ai.usage.input_tokens': call.input_tokens,
      'gen_ai.usage.output_tokens': call.output_tokens,
      'gen_ai.usage.cache_creation_input_tokens': call.cache_creation_input_tokens,
      'gen_ai.usage.cache_read_input_tokens': call.cache_read_input_tokens,
      'llm.cost_usd': call.cost_usd,
      'llm.latency_ms': call.latency_ms,
      ...(call.time_to_first_token_ms === null
        ? {}
        : { 'llm.time_to_first_token_ms': call.time_to_first_token_ms }),
    });
    this.telemetry.modelCallEnded(this.agent, call.model, 'ok', call.latency_ms / 1000, call);
    this.span.end();
  }

  /** An attempt that is retried, whose billed part `call` counts in the token and cost metrics. */
  attemptFailed(call: LlmCallRecord): void {
    this.telemetry.billed(this.agent, call.model, call);
  }

  /** `billed`: what the provider billed of the call before it failed or was cancelled. */
  failed(error: unknown, billed?: LlmCallRecord): void {
    if (this.ended) return;
    this.ended = true;
    const outcome = error instanceof LlmError ? error.kind : 'error';
    this.span.setAttribute('llm.outcome', outcome);
    if (billed) {
      this.span.setAttributes({
        'gen_ai.usage.input_tokens': billed.input_tokens,
        'gen_ai.usage.output_tokens': billed.output_tokens,
        'llm.cost_usd': billed.cost_usd,
      });
      this.telemetry.billed(this.agent, billed.model, billed);
    }
    if (outcome !== 'aborted') recordSpanError(this.span, error);
    this.telemetry.modelCallEnded(
      this.agent,
      this.model,
      outcome,
      (performance.now() - this.startedAt) / 1000,
    );
    this.span.end();
  }
}

/**
 * `steps` run in the span's context; as they are when the span carries no trace (tracing off): there is no context
 * to enter then, and the extra generator would cost a few promises on every delta of every turn.
 */
function bound<T>(span: Span, ctx: Context, steps: AsyncIterable<T>): AsyncIterable<T> {
  return isSpanContextValid(span.spanContext()) ? inContext(ctx, steps) : steps;
}

/** An async iterable whose every step runs with `ctx` active (a generator runs in whoever calls next()). */
async function* inContext<T>(ctx: Context, steps: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = steps[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const step = await context.with(ctx, () => iterator.next());
      if (step.done) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } finally {
    // A consumer that stops early (break, a thrown error) stops the source too, in the same context.
    if (!finished) await context.with(ctx, async () => iterator.return?.());
  }
}
