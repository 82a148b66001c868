// The provider as callers should meet it: every call goes through the key pool, the shared rate limit and
// the retry policy, around one single-attempt SDK client per key.
//
// A call is retried only while nothing of it has reached the caller: once a text delta was yielded, a
// failure ends the call (the runner ends the turn with `upstream_error` and stores nothing), because a
// second answer would be glued onto the first one's beginning.
import { Logger } from '@nestjs/common';
import type { KeyPoolStatus, PooledKey, ProviderKeyPool } from './key-pool';
import { LlmClient, LlmRequest, LlmStreamEvent, LlmUsage } from './llm-client';
import { LlmError } from './llm-error';
import type { ProviderRateLimiter } from './rate-limiter';
import { realSleep, retryDelayMs, RetrySettings, Sleeper } from './retry-policy';
import { estimateInputTokens } from './token-estimate';

export interface ResilienceHooks {
  /** A retry is about to happen, after `delayMs`, because of `error`. */
  onRetry?: (error: LlmError, delayMs: number) => void;
}

export class ResilientLlmClient extends LlmClient {
  readonly kind = 'anthropic';
  private readonly logger = new Logger('LlmRetries');

  constructor(
    private readonly pool: ProviderKeyPool,
    private readonly limiter: ProviderRateLimiter,
    private readonly retry: RetrySettings,
    private readonly defaultModel: string,
    private readonly sleep: Sleeper = realSleep,
    private readonly hooks: ResilienceHooks = {},
    private readonly random: () => number = Math.random,
  ) {
    super();
  }

  modelFor(requested: string): string {
    return requested || this.defaultModel;
  }

  override keyPool(): KeyPoolStatus {
    return this.pool.status();
  }

  async *stream(request: LlmRequest): AsyncGenerator<LlmStreamEvent> {
    // Serialising the prompt to estimate it is only worth it when a tokens-per-minute limit reads the figure.
    const tokens = this.limiter.countsTokens ? estimateInputTokens(request) + request.maxTokens : 0;
    let retries = 0;
    for (;;) {
      if (request.signal?.aborted) throw new LlmError('aborted', 'The model call was cancelled.');
      const keys = this.pool.available();
      if (!keys.length) {
        throw new LlmError(
          'authentication',
          'The model provider refused every configured API key; none is left in the pool.',
          401,
        );
      }
      // Waits its turn (or fails with rate_limited past the allowed wait): never retried here, it already waited.
      const grant = await this.limiter.acquire(
        keys.map((key) => key.id),
        tokens,
        request.signal,
        request.tenantId,
      );
      const key = keys[grant.index] ?? keys[0];
      let yielded = false;
      let usage: LlmUsage | undefined;
      try {
        for await (const event of key.client.stream(request)) {
          if (event.type === 'text' || event.type === 'thinking') yielded = true;
          else if (event.type === 'result') usage = event.result.usage;
          yield event;
        }
      } catch (error) {
        const failure = asLlmError(error);
        // What the provider billed of a failed attempt counts against the key's token window too.
        await grant.settle(failure.partial ? totalTokens(failure.partial.usage) : 0);
        if (failure.kind === 'authentication' && failure.status !== undefined) {
          const left = this.pool.remove(key, failure);
          // Another key may well work: trying it is not a retry of a provider failure.
          if (!yielded && left > 0) continue;
          throw failure;
        }
        if (yielded || !failure.retryable) throw failure;
        if (retries >= this.retry.maxRetries) throw exhausted(failure, retries + 1);
        // The attempt is retried, but what it billed must still be recorded by the caller.
        if (failure.partial) yield { type: 'attempt_failed', error: failure as BilledFailure };
        const delay = await this.backOff(failure, key, retries, keys.length);
        retries += 1;
        this.hooks.onRetry?.(failure, delay);
        this.logger.warn(
          `Model call attempt ${retries} of ${this.retry.maxRetries + 1} failed (${failure.kind}${failure.status ? ` ${failure.status}` : ''}); retrying in ${delay} ms.`,
        );
        await this.sleep(delay, request.signal);
        continue;
      }
      await grant.settle(usage ? totalTokens(usage) : 0);
      return;
    }
  }

  /** How long to wait before the next attempt; a 429 also parks its key for every instance. */
  private async backOff(failure: LlmError, key: PooledKey, retry: number, keyCount: number): Promise<number> {
    const delay = retryDelayMs(failure, retry, this.retry, this.random);
    if (failure.kind !== 'rate_limited') return delay;
    // The key's own back-off follows the provider's retry-after in full; the shared limiter holds every call
    // off it until then (past the allowed wait, a call fails with rate_limited and that retry-after).
    const asked = failure.retryAfterSeconds !== undefined ? failure.retryAfterSeconds * 1000 : delay;
    await this.limiter.penalize(key.id, asked);
    // Another key takes the retry at once; with a single key, wait as the provider asked.
    return keyCount > 1 ? 0 : delay;
  }
}

function totalTokens(usage: LlmUsage): number {
  return (
    usage.input_tokens +
    usage.output_tokens +
    usage.cache_creation_input_tokens +
    usage.cache_read_input_tokens
  );
}

function asLlmError(error: unknown): LlmError {
  if (error instanceof LlmError) return error;
  const wrapped = new LlmError('server_error', 'The model call failed unexpectedly.');
  wrapped.cause = error;
  return wrapped;
}

function exhausted(failure: LlmError, attempts: number): LlmError {
  const error = new LlmError(
    failure.kind,
    `${failure.message} Gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}.`,
    failure.status,
    failure.retryAfterSeconds,
  );
  error.cause = failure;
  error.partial = failure.partial;
  return error;
}

type BilledFailure = Extract<LlmStreamEvent, { type: 'attempt_failed' }>['error'];
