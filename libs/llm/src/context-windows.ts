// How many tokens each model takes in one request (input and max_tokens together), and a bound of what a request
// holds: the two numbers the context budget compares before every model call.
import type { LlmRequest } from './llm-client';
import { estimateInputTokens } from './token-estimate';

/**
 * Context windows in tokens; a dated model id (claude-sonnet-4-5-20250929) matches its family. Models with a
 * larger window behind a beta flag (1M tokens for some Sonnet models) are listed at their default window: the
 * adapter sends no beta flag.
 */
export const DEFAULT_CONTEXT_WINDOWS: Readonly<Record<string, number>> = {
  'offline-demo': 200_000,
  'claude-opus-4-5': 200_000,
  'claude-opus-4-1': 200_000,
  'claude-opus-4': 200_000,
  'claude-sonnet-4-6': 200_000,
  'claude-sonnet-4-5': 200_000,
  'claude-sonnet-4': 200_000,
  'claude-3-7-sonnet': 200_000,
  'claude-haiku-4-5': 200_000,
  'claude-3-5-haiku': 200_000,
};

/** The window of a model nobody listed: smaller than any Claude model's, so an unknown model is not overfilled. */
export const UNKNOWN_MODEL_CONTEXT_WINDOW = 100_000;

export class ContextWindows {
  private readonly byLength: Array<[string, number]>;
  private readonly fallback: number;

  /** `overrides` replace or add entries; its `*` entry is the window of a model the table does not know. */
  constructor(overrides: Readonly<Record<string, number>> = {}) {
    const { '*': unknown, ...models } = overrides;
    this.fallback = unknown ?? UNKNOWN_MODEL_CONTEXT_WINDOW;
    // Longest prefix first, so claude-opus-4-1 wins over claude-opus-4.
    this.byLength = Object.entries({ ...DEFAULT_CONTEXT_WINDOWS, ...models }).sort(
      (a, b) => b[0].length - a[0].length,
    );
  }

  static fromConfig(config: { modelContextWindows?: Record<string, number> }): ContextWindows {
    return new ContextWindows(config.modelContextWindows ?? {});
  }

  windowOf(model: string): number {
    const match = this.byLength.find(([prefix]) => model === prefix || model.startsWith(`${prefix}-`));
    return match ? match[1] : this.fallback;
  }

  /** The budget of a request: the model's window, lowered by whichever limits (agent, conversation) are set. */
  budgetOf(model: string, ...limits: Array<number | null | undefined>): number {
    let budget = this.windowOf(model);
    for (const limit of limits) if (typeof limit === 'number' && limit > 0) budget = Math.min(budget, limit);
    return budget;
  }
}

/**
 * What a request takes of the context window, never less than the provider counts: its input bound (one token
 * per UTF-8 byte, see estimateInputTokens) plus `max_tokens`, which the window must also hold.
 */
export function requestTokenBound(
  request: Pick<LlmRequest, 'system' | 'messages' | 'tools' | 'maxTokens'>,
): number {
  return estimateInputTokens(request) + request.maxTokens;
}
