import { PriceTable, roundUsd, worstCaseUsd } from './pricing';

describe('PriceTable', () => {
  const table = new PriceTable();

  it('prices uncached input, output, cache writes and cache reads each at their own rate', () => {
    const { costUsd, known } = table.cost('claude-sonnet-4-5', {
      input_tokens: 1_000_000,
      output_tokens: 1_000_000,
      cache_creation_input_tokens: 1_000_000,
      cache_read_input_tokens: 1_000_000,
    });
    expect(known).toBe(true);
    expect(costUsd).toBeCloseTo(3 + 15 + 3.75 + 0.3, 8);
  });

  it('matches a dated model id to its family and prefers the longest family name', () => {
    expect(table.priceOf('claude-sonnet-4-5-20250929').price.output).toBe(15);
    expect(table.priceOf('claude-opus-4-1-20250805').price.input).toBe(15);
    expect(table.priceOf('claude-opus-4-5-20251101').price.input).toBe(5);
  });

  it('costs an unknown model at the fallback price and flags it', () => {
    const priced = table.cost('some-future-model', {
      input_tokens: 2_000,
      output_tokens: 1_000,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    });
    expect(priced.known).toBe(false);
    expect(priced.costUsd).toBeCloseTo(0.006 + 0.015, 8);
  });

  it('charges nothing for the offline demo model', () => {
    expect(
      table.cost('offline-demo', {
        input_tokens: 500,
        output_tokens: 500,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      }).costUsd,
    ).toBe(0);
  });

  it('rounds to eight decimal places', () => {
    expect(roundUsd(0.123456789123)).toBe(0.12345679);
  });
});

describe('PriceTable with configured prices', () => {
  it('overrides list prices and prices unknown models at the configured default, telling once per model', () => {
    const told: string[] = [];
    const table = PriceTable.fromConfig(
      {
        modelPrices: { 'claude-sonnet-4-6': { input: 2, output: 10, cacheWrite: 2.5, cacheRead: 0.2 } },
        unknownModelPrice: { input: 20, output: 100, cacheWrite: 25, cacheRead: 2 },
      },
      (model) => told.push(model),
    );
    const usage = {
      input_tokens: 1_000,
      output_tokens: 100,
      cache_creation_input_tokens: 2_000,
      cache_read_input_tokens: 10_000,
    };
    expect(table.cost('claude-sonnet-4-6-20991231', usage).costUsd).toBeCloseTo(
      (1_000 * 2 + 100 * 10 + 2_000 * 2.5 + 10_000 * 0.2) / 1e6,
      10,
    );
    expect(table.cost('claude-haiku-4-5', usage)).toEqual({
      costUsd: (1_000 * 1 + 100 * 5 + 2_000 * 1.25 + 10_000 * 0.1) / 1e6,
      known: true,
    });
    expect(table.cost('mystery-model', usage)).toEqual({
      costUsd: (1_000 * 20 + 100 * 100 + 2_000 * 25 + 10_000 * 2) / 1e6,
      known: false,
    });
    table.cost('mystery-model', usage);
    expect(told).toEqual(['mystery-model']);
  });
});

describe('worstCaseUsd', () => {
  it('prices every input token at the dearer cache-write rate and all of max_tokens as output', () => {
    const price = { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 };
    expect(worstCaseUsd(price, 10_000, 1_000)).toBeCloseTo((10_000 * 3.75 + 1_000 * 15) / 1e6, 10);
  });

  it('rounds up, never down, at the eighth decimal', () => {
    expect(worstCaseUsd({ input: 1, output: 1, cacheWrite: 1, cacheRead: 1 }, 1, 0)).toBe(0.000001);
    expect(worstCaseUsd({ input: 0.001, output: 0, cacheWrite: 0, cacheRead: 0 }, 1, 0)).toBe(0.00000001);
  });
});
