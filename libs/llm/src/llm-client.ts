// The model port: every caller talks to this, never to an SDK.
import type { AssistantBlock, ChatMessage } from './content';
import type { KeyPoolStatus } from './key-pool';
import type { LlmError } from './llm-error';

export interface ToolSpec {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
}

export interface LlmRequest {
  model: string;
  system: string;
  messages: ChatMessage[];
  tools: ToolSpec[];
  /**
   * Not sent to the provider: the API version this SDK speaks (anthropic-version 2026-10-21) refuses every sampling
   * parameter. Kept so the offline model and a future adapter can read it.
   */
  temperature: number;
  /** Includes the thinking budget, when there is one (the provider wants `budget_tokens` below `max_tokens`). */
  maxTokens: number;
  /** Extended thinking: the model may reason in up to `budgetTokens` tokens (≥ 1,024) before it answers. */
  thinking?: { budgetTokens: number };
  signal?: AbortSignal;
  /** Who the call is for: the shared rate limit gives each tenant a fair share when calls queue. */
  tenantId?: string;
}

/** Token counts as the provider reports them: `input_tokens` is the uncached input only. */
export interface LlmUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface LlmResult {
  /** The model that answered, as the provider names it (`offline-demo` for the offline model). */
  model: string;
  content: AssistantBlock[];
  stop_reason: string;
  usage: LlmUsage;
  latency_ms: number;
  /** Milliseconds from the request to the first streamed delta, when there was one. */
  time_to_first_token_ms: number | null;
}

export type LlmStreamEvent =
  | { type: 'text'; text: string }
  /** A delta of the model's reasoning (extended thinking); the signed block arrives in the result. */
  | { type: 'thinking'; thinking: string }
  | { type: 'result'; result: LlmResult }
  /** An attempt the provider had started answering failed and is retried: `error.partial` is what it billed. */
  | { type: 'attempt_failed'; error: LlmError & { partial: NonNullable<LlmError['partial']> } };

/**
 * A model client. `stream` yields text deltas as the provider emits them and ends with exactly
 * one `result` event; failures are thrown as `LlmError` (with `partial` when the provider had started
 * answering, so the caller can record what was billed). Before a retry, a billed failed attempt is
 * announced as `attempt_failed`.
 */
export abstract class LlmClient {
  /** `anthropic` or `offline-demo`. */
  abstract readonly kind: string;
  /** The model name a caller should show when its agent names none of its own. */
  abstract modelFor(requested: string): string;
  abstract stream(request: LlmRequest): AsyncIterable<LlmStreamEvent>;
  /** The provider key pool's state, for readiness; null for a client without keys (the offline model). */
  keyPool(): KeyPoolStatus | null {
    return null;
  }
}
