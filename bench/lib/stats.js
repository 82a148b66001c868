// Percentiles and summaries over raw samples (kept exact: sub-millisecond figures matter here).
'use strict';

/** Nearest-rank percentile of an ascending array; NaN for an empty one. */
function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

function summarize(samples) {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    n: sorted.length,
    mean: sorted.length ? sum / sorted.length : NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
  };
}

/** A growable Float64Array: millions of samples without millions of boxed numbers. */
class Samples {
  constructor(capacity = 1024) {
    this.values = new Float64Array(capacity);
    this.length = 0;
  }

  push(value) {
    if (this.length === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.length++] = value;
  }

  toArray() {
    return Array.from(this.values.subarray(0, this.length));
  }
}

const round = (value, digits = 2) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : null);

module.exports = { percentile, summarize, Samples, round };
