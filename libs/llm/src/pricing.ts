// What a model call costs: USD per million tokens, with cache writes and reads priced apart from plain input.
import type { LlmUsage } from './llm-client';

export interface ModelPrice {
  input: number;
  output: number;
  cacheWrite: number;
  cacheRead: number;
}

/** List prices per million tokens; a dated model id (claude-sonnet-4-5-20250929) matches its family. */
export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = {
  'offline-demo': { input: 0, output: 0, cacheWrite: 0, cacheRead: 0 },
  'claude-opus-4-5': { input: 5, output: 25, cacheWrite: 6.25, cacheRead: 0.5 },
  'claude-opus-4-1': { input: 15, output: 75, cacheWrite: 18.75, cacheRead: 1.5 },
  'claude-opus-4': { input: 15, output: 75, cacheWrite: 18.75, cacheRead: 1.5 },
  'claude-sonnet-4-6': { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 },
  'claude-sonnet-4-5': { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 },
  'claude-sonnet-4': { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 },
  'claude-3-7-sonnet': { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 },
  'claude-haiku-4-5': { input: 1, output: 5, cacheWrite: 1.25, cacheRead: 0.1 },
  'claude-3-5-haiku': { input: 0.8, output: 4, cacheWrite: 1, cacheRead: 0.08 },
};

export interface PricedCall {
  costUsd: number;
  /** False when the model is not in the table and the fallback price was used. */
  known: boolean;
}

export class PriceTable {
  private readonly byLength: Array<[string, ModelPrice]>;
  private readonly flagged = new Set<string>();

  constructor(
    prices: Readonly<Record<string, ModelPrice>> = DEFAULT_PRICES,
    private readonly fallback: ModelPrice = DEFAULT_PRICES['claude-sonnet-4-6'],
    /** Told the first time each unknown model is priced (at the fallback). */
    private readonly onUnknownModel?: (model: string, fallback: ModelPrice) => void,
  ) {
    // Longest prefix first, so claude-opus-4-1 wins over claude-opus-4.
    this.byLength = Object.entries(prices).sort((a, b) => b[0].length - a[0].length);
  }

  /** The list prices with the configured overrides on top, and the configured price for unknown models. */
  static fromConfig(
    config: { modelPrices?: Record<string, ModelPrice>; unknownModelPrice?: ModelPrice },
    onUnknownModel?: (model: string, fallback: ModelPrice) => void,
  ): PriceTable {
    return new PriceTable(
      { ...DEFAULT_PRICES, ...config.modelPrices },
      config.unknownModelPrice ?? DEFAULT_PRICES['claude-sonnet-4-6'],
      onUnknownModel,
    );
  }

  priceOf(model: string): { price: ModelPrice; known: boolean } {
    const match = this.byLength.find(([prefix]) => model === prefix || model.startsWith(`${prefix}-`));
    return match ? { price: match[1], known: true } : { price: this.fallback, known: false };
  }

  cost(model: string, usage: LlmUsage): PricedCall {
    const { price, known } = this.priceOf(model);
    if (!known && !this.flagged.has(model)) {
      this.flagged.add(model);
      this.onUnknownModel?.(model, price);
    }
    const micro =
      usage.input_tokens * price.input +
      usage.output_tokens * price.output +
      usage.cache_creation_input_tokens * price.cacheWrite +
      usage.cache_read_input_tokens * price.cacheRead;
    return { costUsd: roundUsd(micro / 1_000_000), known };
  }
}

/** Costs are kept to 8 decimal places (a hundredth of a micro-dollar), as the database stores them. */
export function roundUsd(value: number): number {
  return Math.round(value * 1e8) / 1e8;
}

/**
 * The most a call can cost: every input token at the dearer of the plain and the cache-write price, and
 * all of `max_tokens` produced. What a budget reserves before the call is made.
 */
export function worstCaseUsd(price: ModelPrice, inputTokens: number, maxTokens: number): number {
  const micro = inputTokens * Math.max(price.input, price.cacheWrite) + maxTokens * price.output;
  // Rounded up, so the reservation is never a hair below the real worst case.
  return Math.ceil((micro / 1_000_000) * 1e8) / 1e8;
}
