// When a failed model call is tried again, and after how long: exponential backoff with full jitter,
// a provider's `retry-after` honoured (and capped), a bounded number of attempts.
import { LlmError } from './llm-error';

export interface RetrySettings {
  /** Retries after the first attempt. */
  maxRetries: number;
  baseMs: number;
  /** Cap of one backoff delay, and of a `retry-after` sent with a 529 or 5xx. */
  maxDelayMs: number;
}

/** Waits `ms` or until the signal fires (then rejects with an `aborted` LlmError). Injected so tests need not wait. */
export type Sleeper = (ms: number, signal?: AbortSignal) => Promise<void>;

/**
 * Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): a uniform draw in
 * [0, min(cap, base·2^retry)), so clients that failed together do not retry together.
 */
export function fullJitterDelayMs(
  retry: number,
  settings: Pick<RetrySettings, 'baseMs' | 'maxDelayMs'>,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(settings.maxDelayMs, settings.baseMs * 2 ** Math.max(0, retry));
  return Math.floor(random() * ceiling);
}

/**
 * Which failures another attempt may fix: 429 (never a spend limit: that is `billing`), 529, 5xx, 408/409,
 * connection failures and timeouts. Nothing a caller has seen part of may be retried (see ResilientLlmClient).
 */
export function isRetryable(error: LlmError): boolean {
  return error.retryable;
}

/**
 * The delay before retry number `retry` (0 for the first retry). A `retry-after` is honoured: never retry
 * sooner than the provider asked (capped, so a wild header cannot park a call for an hour); without one, full jitter.
 */
export function retryDelayMs(
  error: LlmError,
  retry: number,
  settings: Pick<RetrySettings, 'baseMs' | 'maxDelayMs'>,
  random: () => number = Math.random,
): number {
  const jitter = fullJitterDelayMs(retry, settings, random);
  if (error.retryAfterSeconds === undefined) return jitter;
  const asked = Math.min(error.retryAfterSeconds * 1000, settings.maxDelayMs);
  return Math.max(jitter, Math.ceil(asked));
}

export const realSleep: Sleeper = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new LlmError('aborted', 'The model call was cancelled.'));
    if (ms <= 0) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(timer);
      reject(new LlmError('aborted', 'The model call was cancelled.'));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
