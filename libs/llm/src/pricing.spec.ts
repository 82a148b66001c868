import { PriceTable, roundUsd } from './pricing';

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
