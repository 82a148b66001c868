// Provider failures, classified once here so callers decide on a kind, not on SDK classes.
export type LlmErrorKind =
  | 'rate_limited' // 429 (retry_after_s may be set)
  | 'overloaded' // 529
  | 'server_error' // 5xx, 408, 409
  | 'connection' // connection refused/reset, timeout, a stream cut mid-way
  | 'invalid_request' // 400, 404, 413
  | 'authentication' // 401, 403
  | 'billing' // 402, spend-limit 429
  | 'aborted'; // the caller's signal fired

export class LlmError extends Error {
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
