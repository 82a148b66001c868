// Keeps every model call of a conversation within its context budget: before each call the request is measured
// with a bound that never underestimates; over the budget, old tool results are replaced by a placeholder, then
// older turns are compacted into a summary the model writes (in chunks whose own requests fit), stored as a record
// of its own and reused by later turns. The stored history is never changed. See context-plan.ts for the rules.
import { Injectable, Logger } from '@nestjs/common';
import type { AgentDefinition } from '@lib/agents';
import { ConversationContextStore, LlmCallRecord } from '@lib/conversations';
import { AppConfig } from '@lib/core';
import {
  ChatMessage,
  ContextOverflow,
  ContextWindows,
  estimateInputTokens,
  LlmClient,
  LlmError,
  LlmRequest,
  LlmResult,
  PriceTable,
  requestTokenBound,
  ToolSpec,
  worstCaseUsd,
} from '@lib/llm';
import { SpendGuard, SpendScope } from '@lib/usage';
import { callRecordOf, CallOwner, partialCallRecordOf } from './call-record';
import {
  allMessages,
  clearingPosition,
  clipToJsonBytes,
  CLEARING_TARGET,
  COMPACTION_TARGET,
  compactionCut,
  ContextInput,
  ContextState,
  firstKept,
  jsonBytes,
  renderContext,
  summaryAllowance,
} from './context-plan';

/** The summariser's instructions: fixed, so its requests share a cacheable prefix too. */
export const SUMMARISER_SYSTEM = [
  'You write the running summary of a conversation between a user and an assistant that uses tools.',
  'You get the summary so far (possibly empty) and the next part of the conversation as a transcript.',
  'Write the updated summary of everything up to the end of the transcript: what the user asked for and why,',
  'the facts the tools returned that may matter later (exact order numbers, statuses, amounts, ticket ids, names),',
  'what the assistant answered, decided or promised, and what is still open.',
  'Keep identifiers and numbers exactly as written. Use short plain sentences or bullet points.',
  'Answer with the summary only.',
].join(' ');

/** A summariser request is never sent with less room than this for the transcript (bytes). */
const MIN_CHUNK_BYTES = 512;

/** A turn that needs a compaction its budget cannot pay for ends as a turn over its cost limit does. */
export interface CostLimited {
  stop: 'cost_limit';
}

/** The request of one model call: the messages to send and the max_tokens that fits beside them. */
export interface PreparedRequest {
  stop?: undefined;
  messages: ChatMessage[];
  maxTokens: number;
  /** The request's bound (input and max_tokens), in tokens. */
  tokens: number;
  /** True when the messages are not the whole history (a summary or a cleared tool result stands in). */
  compacted: boolean;
}

export interface ContextScope extends CallOwner {
  tenantId: string;
  conversationId: string;
  agent: AgentDefinition;
  /** The model the turn calls (the agent's, or the deployment's default). */
  model: string;
  system: string;
  tools: ToolSpec[];
  history: ChatMessage[];
  maxTokens: number;
  /** The conversation's own budget (max_context_tokens), when it sets one. */
  maxContextTokens?: number | null;
  signal: AbortSignal;
  /** The budgets a summary call reserves against, as the loop's own calls do. */
  spend: Pick<SpendScope, 'conversationLimitUsd' | 'conversationSpentUsd'>;
}

@Injectable()
export class ContextWindow {
  private readonly windows: ContextWindows;

  constructor(
    private readonly llm: LlmClient,
    private readonly prices: PriceTable,
    private readonly spend: SpendGuard,
    private readonly store: ConversationContextStore,
    private readonly config: AppConfig,
  ) {
    this.windows = ContextWindows.fromConfig(config);
  }

  /** The most one request of this agent (and conversation) may take: its model's window or a lower limit. */
  budgetOf(
    model: string,
    agent: Pick<AgentDefinition, 'maxContextTokens'>,
    maxContextTokens?: number | null,
  ): number {
    return this.windows.budgetOf(model, agent.maxContextTokens, maxContextTokens);
  }

  /** The context of one turn, with the conversation's summary and clearing position loaded. */
  async open(scope: ContextScope): Promise<TurnContext> {
    // A conversation without history has no context records yet: no round trip for them.
    const stored = scope.history.length
      ? await this.store.state(scope.tenantId, scope.conversationId)
      : { summary: null, toolResultsClearedBefore: 0 };
    // A summary only ever covers stored messages; one that reaches past them (it cannot) is not used.
    const summary =
      stored.summary && stored.summary.lastSeq < scope.history.length
        ? { lastSeq: stored.summary.lastSeq, text: stored.summary.text }
        : null;
    return new TurnContext(
      this,
      scope,
      this.budgetOf(scope.model, scope.agent, scope.maxContextTokens),
      { summary, clearedBefore: Math.min(stored.toolResultsClearedBefore, scope.history.length) },
      stored.toolResultsClearedBefore,
    );
  }

  /** @internal One summariser call, reserved against the budgets and recorded in `calls`; null: no budget for it. */
  async summaryCall(
    scope: ContextScope,
    request: LlmRequest,
    calls: LlmCallRecord[],
  ): Promise<LlmResult | null> {
    const worst = this.spend.isUnlimited({ conversationLimitUsd: scope.spend.conversationLimitUsd })
      ? 0
      : worstCaseUsd(
          this.prices.priceOf(request.model).price,
          estimateInputTokens(request),
          request.maxTokens,
        );
    const outcome = await this.spend.reserve(
      { tenantId: scope.tenantId, conversationId: scope.conversationId, ...scope.spend },
      worst,
    );
    if (!outcome.granted) return null;
    let billedUsd = 0;
    let result: LlmResult | undefined;
    try {
      for await (const event of this.llm.stream(request)) {
        if (event.type === 'attempt_failed') {
          const attempt = partialCallRecordOf(this.prices, event.error, request.model, scope);
          calls.push(attempt);
          billedUsd += attempt.cost_usd;
        } else if (event.type === 'result') result = event.result;
      }
    } catch (error) {
      if (error instanceof LlmError && error.partial) {
        const billed = partialCallRecordOf(
          this.prices,
          error as LlmError & { partial: NonNullable<LlmError['partial']> },
          request.model,
          scope,
        );
        calls.push(billed);
        billedUsd += billed.cost_usd;
      }
      await outcome.reservation.settle(billedUsd).catch(() => undefined);
      throw error;
    }
    if (!result) {
      await outcome.reservation.settle(billedUsd).catch(() => undefined);
      throw new LlmError('connection', 'The model stream ended without a message.');
    }
    const call = callRecordOf(this.prices, result, scope);
    calls.push(call);
    await outcome.reservation.settle(billedUsd + call.cost_usd);
    return result;
  }

  /** @internal */
  get summaryMaxTokens(): number {
    return this.config.contextSummaryMaxTokens ?? 2048;
  }

  /** @internal */
  get contextStore(): ConversationContextStore {
    return this.store;
  }
}

/** One turn's view of its conversation's context: what each of its model calls sends. */
export class TurnContext {
  private readonly logger = new Logger(TurnContext.name);
  /** True once a call of this turn sent a compacted history. */
  compacted = false;
  /** Summaries this turn wrote. */
  summariesWritten = 0;

  constructor(
    private readonly window: ContextWindow,
    private readonly scope: ContextScope,
    private budget: number,
    private readonly state: ContextState,
    /** The clearing position as stored (it may only grow). */
    private storedClearedBefore: number,
  ) {}

  /** The budget this turn's requests are kept within. */
  get tokenBudget(): number {
    return this.budget;
  }

  /**
   * The request for the next model call of the turn (`turn`: its messages so far): within the budget, clearing and
   * compacting as needed. Summary calls are recorded in `calls`.
   */
  async prepare(turn: ChatMessage[], calls: LlmCallRecord[]): Promise<PreparedRequest | CostLimited> {
    const input = this.input(turn);
    let rendered = renderContext(input, this.state);
    if (rendered.tokens > this.budget) {
      await this.clear(input, Math.floor(this.budget * CLEARING_TARGET));
      rendered = renderContext(input, this.state);
    }
    if (rendered.tokens > this.budget) {
      if ((await this.compact(input, calls)) === 'cost_limit') return { stop: 'cost_limit' };
      rendered = renderContext(input, this.state);
      // The messages kept may still hold results to clear (the running turn's, say).
      if (rendered.tokens > this.budget) {
        await this.clear(input, this.budget);
        rendered = renderContext(input, this.state);
      }
    }
    let maxTokens = input.maxTokens;
    if (rendered.tokens > this.budget) {
      // Nothing more can go: the answer gets what room is left. A request that still does not fit is sent as it is
      // (the bound is pessimistic); the provider's "prompt is too long" is recovered from by the loop.
      const inputBound = rendered.tokens - maxTokens;
      maxTokens = Math.max(Math.min(maxTokens, 256), this.budget - inputBound);
      this.logger.warn(
        `A request of conversation ${this.scope.conversationId} does not fit its context budget of ${this.budget} ` +
          `tokens even compacted (bound ${rendered.tokens}); max_tokens is lowered to ${maxTokens}.`,
      );
    }
    this.compacted ||= rendered.compacted;
    return {
      messages: rendered.messages,
      maxTokens,
      tokens: rendered.tokens - input.maxTokens + maxTokens,
      compacted: rendered.compacted,
    };
  }

  /**
   * The provider said the last request (of bound `sentTokens`, with `maxTokens`) was too long: the budget of the
   * rest of the turn shrinks by the share the provider found too much, so the next prepare() compacts further.
   */
  tighten(overflow: ContextOverflow, sent: Pick<PreparedRequest, 'tokens' | 'maxTokens'>): void {
    const inputBound = Math.max(1, sent.tokens - sent.maxTokens);
    const ratio = overflow.maximum / Math.max(overflow.tokens, overflow.maximum + 1);
    const tighter = Math.floor(inputBound * ratio * 0.9) + sent.maxTokens;
    this.budget = Math.max(1_000, Math.min(this.budget, tighter));
  }

  private input(turn: ChatMessage[]): ContextInput {
    return {
      system: this.scope.system,
      tools: this.scope.tools,
      history: this.scope.history,
      turn,
      maxTokens: this.scope.maxTokens,
      budget: this.budget,
    };
  }

  /** Moves the clearing position forward to reach `target`; stored as far as it concerns stored messages. */
  private async clear(input: ContextInput, target: number): Promise<void> {
    const position = clearingPosition(input, this.state, target);
    if (position <= this.state.clearedBefore) return;
    this.state.clearedBefore = position;
    const stored = Math.min(position, input.history.length);
    if (stored > this.storedClearedBefore) {
      await this.window.contextStore.clearToolResultsBefore(
        this.scope.tenantId,
        this.scope.conversationId,
        stored,
      );
      this.storedClearedBefore = stored;
    }
  }

  /** Summarises the oldest stored messages not yet summarised into a new summary record. */
  private async compact(
    input: ContextInput,
    calls: LlmCallRecord[],
  ): Promise<'done' | 'nothing' | 'cost_limit'> {
    const allowance = summaryAllowance(this.budget);
    const cut = compactionCut(input, this.state, Math.floor(this.budget * COMPACTION_TARGET), allowance);
    if (cut === null) return 'nothing';
    const all = allMessages(input);
    const start = firstKept(this.state);
    const written = await this.summarise(all, start, cut, allowance, calls);
    if (!written) return 'cost_limit';
    await this.window.contextStore.saveSummary(this.scope.tenantId, {
      conversationId: this.scope.conversationId,
      firstSeq: 0,
      lastSeq: cut - 1,
      text: written.text,
      model: written.model,
      tokens: written.tokens,
    });
    this.state.summary = { lastSeq: cut - 1, text: written.text };
    this.summariesWritten += 1;
    return 'done';
  }

  /**
   * The summary of the previous summary and the messages `from`..`to`-1, written chunk by chunk: each chunk's
   * request (instructions, the summary so far at its largest, the transcript, max_tokens) fits the budget.
   */
  private async summarise(
    all: ChatMessage[],
    from: number,
    to: number,
    allowance: number,
    calls: LlmCallRecord[],
  ): Promise<{ text: string; model: string; tokens: number } | null> {
    const maxTokens = Math.max(64, Math.min(this.window.summaryMaxTokens, Math.floor(allowance / 3)));
    const scaffold = requestTokenBound(summaryRequest(this.scope, 'x'.repeat(allowance), [], maxTokens));
    const chunkBytes = Math.max(MIN_CHUNK_BYTES, this.budget - scaffold - 16);
    // A summary written under a larger budget (before a "prompt is too long") is cut to this one's room.
    let text = clipToJsonBytes(this.state.summary?.text ?? '', allowance);
    let model = this.scope.model;
    let tokens = 0;
    for (const chunk of chunked(transcript(all, from, to), chunkBytes)) {
      const result = await this.window.summaryCall(
        this.scope,
        summaryRequest(this.scope, text, chunk, maxTokens),
        calls,
      );
      if (!result) return null;
      const answer = result.content
        .map((block) => (block.type === 'text' ? block.text : ''))
        .join('')
        .trim();
      // An empty answer keeps what was known; an overlong one is cut to the room a summary has.
      if (answer) text = clipToJsonBytes(answer, allowance);
      model = result.model;
      tokens = result.usage.output_tokens;
    }
    return { text, model, tokens };
  }
}

function summaryRequest(
  scope: ContextScope,
  previous: string,
  lines: string[],
  maxTokens: number,
): LlmRequest {
  return {
    model: scope.model,
    system: SUMMARISER_SYSTEM,
    tools: [],
    temperature: 0,
    maxTokens,
    signal: scope.signal,
    tenantId: scope.tenantId,
    messages: [
      {
        role: 'user',
        content:
          `<summary_so_far>\n${previous || '(none yet)'}\n</summary_so_far>\n\n` +
          `<transcript>\n${lines.join('\n')}\n</transcript>\n\nWrite the updated summary.`,
      },
    ],
  };
}

/** The messages `from`..`to`-1 as transcript lines: who said what, which tool was called and what it returned. */
export function transcript(all: ChatMessage[], from: number, to: number): string[] {
  const toolNames = new Map<string, string>();
  for (const message of all.slice(0, to)) {
    if (typeof message.content === 'string') continue;
    for (const block of message.content) if (block.type === 'tool_use') toolNames.set(block.id, block.name);
  }
  const lines: string[] = [];
  for (const message of all.slice(from, to)) {
    const speaker = message.role === 'user' ? 'User' : 'Assistant';
    if (typeof message.content === 'string') {
      lines.push(`${speaker}: ${message.content}`);
      continue;
    }
    for (const block of message.content) {
      switch (block.type) {
        case 'text':
          if (block.text.trim()) lines.push(`${speaker}: ${block.text}`);
          break;
        case 'tool_use':
          lines.push(`Assistant called ${block.name} with ${JSON.stringify(block.input)}`);
          break;
        case 'tool_result':
          lines.push(
            `${toolNames.get(block.tool_use_id) ?? 'A tool'} returned${block.is_error ? ' an error' : ''}: ` +
              `${typeof block.content === 'string' ? block.content : JSON.stringify(block.content)}`,
          );
          break;
        default:
          // Other blocks (images, documents, thinking) are named, not transcribed.
          lines.push(
            `${speaker} sent a ${String((block as { type: string }).type).replace(/_/g, ' ')} block`,
          );
      }
    }
  }
  return lines;
}

/** The lines in chunks of at most `maxBytes` JSON bytes each (a longer line is cut to fit a chunk alone). */
export function chunked(lines: string[], maxBytes: number): string[][] {
  const chunks: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const raw of lines) {
    // In the request a line costs its JSON bytes less the quotes, plus the escaped newline that joins it.
    const line = clipToJsonBytes(raw, maxBytes);
    const cost = jsonBytes(line);
    if (current.length && size + cost > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(line);
    size += cost;
  }
  if (current.length) chunks.push(current);
  return chunks;
}
