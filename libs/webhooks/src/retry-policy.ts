// Which delivery attempts are retried and when: the answer (or failure) of one attempt decides between delivered,
// retry and give up; WEBHOOK_RETRY_SCHEDULE decides when, with ±10 % jitter so a receiver that was down is not
// hit by every pending event in the same second.

/** What one attempt ran into, before any judgement. */
export interface AttemptOutcome {
  /** The receiver's HTTP status, or null when no answer came. */
  statusCode: number | null;
  /**
   * Why no answer came: `refused` (the SSRF guard refused the target: definite), `unresolved` (DNS failure),
   * `network` (connection refused, reset…), `timeout`, `unconfigured` (no signing secret on this process).
   */
  failure: 'refused' | 'unresolved' | 'network' | 'timeout' | 'unconfigured' | null;
  /** The receiver's Retry-After header (seconds or an HTTP date), if any. */
  retryAfter?: string | null;
}

export type Verdict =
  { kind: 'delivered' } | { kind: 'retry'; notBeforeMs: number | null } | { kind: 'give_up' };

/** Retry-After's longest honoured wait: a receiver cannot park an event for more than a day. */
const MAX_RETRY_AFTER_MS = 86_400_000;
const JITTER = 0.1;

/**
 * 2xx delivered. Network errors, DNS failures, timeouts, 408, 429 (after Retry-After), 5xx and redirects (never
 * followed, so a moved endpoint is an operator's fix away) are retried; other 4xx and a refused target are not.
 */
export function classifyAttempt(outcome: AttemptOutcome, nowMs = Date.now()): Verdict {
  const { statusCode: status } = outcome;
  if (status === null) {
    return outcome.failure === 'refused' ? { kind: 'give_up' } : { kind: 'retry', notBeforeMs: null };
  }
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 429) return { kind: 'retry', notBeforeMs: retryAfterMs(outcome.retryAfter, nowMs) };
  if (status === 408 || status >= 500 || (status >= 300 && status < 400)) {
    return { kind: 'retry', notBeforeMs: status === 503 ? retryAfterMs(outcome.retryAfter, nowMs) : null };
  }
  return { kind: 'give_up' };
}

/** Retry-After as milliseconds from now (delta seconds or an HTTP date), capped at a day; null when absent or bad. */
export function retryAfterMs(header: string | null | undefined, nowMs = Date.now()): number | null {
  if (!header) return null;
  const value = header.trim();
  let ms: number;
  if (/^\d+$/.test(value)) ms = Number(value) * 1000;
  else {
    // An HTTP date names its day and month ("Fri, 20 Nov 2026 10:00:30 GMT"); Date.parse alone takes "-5" as a year.
    const at = /[a-z]{3}/i.test(value) ? Date.parse(value) : NaN;
    if (Number.isNaN(at)) return null;
    ms = at - nowMs;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** `ms` moved by up to ±10 %; `random` in [0, 1). */
export function withJitter(ms: number, random: () => number = Math.random): number {
  return Math.max(1, Math.round(ms * (1 + (random() * 2 - 1) * JITTER)));
}

/**
 * The wait before the attempt after `attempt` (1-based) failed: the schedule's delay for it with jitter, or
 * Retry-After when that is longer; null once the schedule is spent (give up).
 */
export function nextDelayMs(
  schedule: readonly number[],
  attempt: number,
  notBeforeMs: number | null,
  random: () => number = Math.random,
): number | null {
  const delay = schedule[attempt - 1];
  if (delay === undefined) return null;
  return Math.max(withJitter(delay, random), notBeforeMs ?? 0);
}
