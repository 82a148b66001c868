// Provider failures, classified once here so callers decide on a kind, not on SDK classes.
import type { LlmUsage } from './llm-client';

export type LlmErrorKind =
  | 'rate_limited' // 429 (retry_after_s may be set)
  | 'overloaded' // 529
  | 'server_error' // 5xx, 408, 409
  | 'connection' // connection refused/reset, timeout, a stream cut mid-way
  | 'invalid_request' // 400, 404, 413
  | 'authentication' // 401, 403
  | 'billing' // 402, spend-limit 429
  | 'aborted'; // the caller's signal fired

/**
 * What the provider had already billed of an attempt that did not finish (cancelled, cut, failed mid-stream):
 * the input `message_start` reported and the output so far (the last `message_delta` count, else an estimate
 * from the streamed content). Absent when the provider never started answering (nothing is billed then).
 */
export interface PartialCall {
  model: string;
  usage: LlmUsage;
  /** True when the output count is estimated from the streamed text rather than reported by the provider. */
  outputEstimated: boolean;
  latency_ms: number;
  time_to_first_token_ms: number | null;
}

export class LlmError extends Error {
  /** The billed part of the attempt that failed; see PartialCall. */
  partial?: PartialCall;
  /** Set when the provider refused the request as longer than the model's context window (see prompt-too-long.ts). */
  contextOverflow?: { tokens: number; maximum: number };

  constructor(
    readonly kind: LlmErrorKind,
    message: string,
    readonly status?: number,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'LlmError';
  }

  get retryable(): boolean {
    return (
      this.kind === 'rate_limited' ||
      this.kind === 'overloaded' ||
      this.kind === 'server_error' ||
      this.kind === 'connection'
    );
  }
}
