// Provides the model port: the Anthropic API behind the key pool, the shared rate limit and the retry policy when
// keys are configured, the offline demo model otherwise; and the price table (list prices + configured overrides).
import { Logger, Module } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { AppConfig, Metrics, RedisService } from '@lib/core';
import { AnthropicLlmClient } from './anthropic-llm-client';
import { keyId, PooledKey, ProviderKeyPool } from './key-pool';
import { LlmClient } from './llm-client';
import { OfflineLlmClient } from './offline-llm-client';
import { PriceTable } from './pricing';
import { ProviderRateLimiter, RedisRateLimiter, UnlimitedRateLimiter } from './rate-limiter';
import { RateLimitWatch } from './rate-limit-watch';
import { ResilientLlmClient } from './resilient-llm-client';
import { realSleep, Sleeper } from './retry-policy';

export interface LlmClientDependencies {
  /** The shared rate limit lives here; without it (unit tests) calls are not limited. */
  redis?: Redis;
  metrics?: Metrics;
  sleep?: Sleeper;
  /** Publishes how full the limiter's windows are and warns near capacity. */
  watch?: RateLimitWatch;
}

/** The configured key pool: ANTHROPIC_API_KEYS, else ANTHROPIC_API_KEY. */
function poolKeys(config: AppConfig): string[] {
  if (config.anthropicApiKeys?.length) return config.anthropicApiKeys;
  return config.anthropicApiKey ? [config.anthropicApiKey] : [];
}

export function createLlmClient(
  config: AppConfig,
  dependencies: LlmClientDependencies = {},
  logger = new Logger('LlmModule'),
): LlmClient {
  const apiKeys = poolKeys(config);
  if (!apiKeys.length) {
    logger.warn(
      'No ANTHROPIC_API_KEY is set: the offline demo model answers every request, and its answers do not come from Claude.',
    );
    return new OfflineLlmClient(config);
  }
  const { metrics, redis, watch } = dependencies;
  const sleep = dependencies.sleep ?? realSleep;
  const removed = metrics?.counter(
    'llm_keys_removed_total',
    'Provider API keys taken out of the pool (401/403).',
  );
  const retries = metrics?.counter('llm_retries_total', 'Model call attempts retried, by failure.', ['kind']);
  const waits = metrics?.histogram(
    'llm_rate_limit_wait_seconds',
    'Time model calls waited for the shared provider rate limit.',
    ['outcome'],
    [0.05, 0.25, 1, 2.5, 5, 10, 30, 60],
  );
  const keys: PooledKey[] = apiKeys.map((apiKey, i) => ({
    id: keyId(apiKey),
    label: `#${i + 1}`,
    client: new AnthropicLlmClient(config, { apiKey, maxRetries: 0 }),
  }));
  const pool = new ProviderKeyPool(keys, () => removed?.inc());
  const windowMs = config.llmRateLimitWindowMs ?? 60_000;
  const redisLimiter = redis
    ? new RedisRateLimiter(
        redis,
        {
          requestsPerMinute: config.llmRequestsPerMinute ?? 0,
          tokensPerMinute: config.llmTokensPerMinute ?? 0,
          windowMs,
          maxWaitMs: config.llmRateLimitMaxWaitMs ?? 0,
          poolId: createHash('sha256')
            .update(keys.map((k) => k.id).join(','))
            .digest('hex')
            .slice(0, 16),
        },
        sleep,
        (ms, outcome) => waits?.observe({ outcome }, ms / 1000),
        (keyId, fills) =>
          void watch?.observe(keyId, fills).catch((error: Error) => {
            logger.warn(`Could not check how full the provider rate limit is: ${error.message}`);
          }),
      )
    : undefined;
  if (redisLimiter && watch) {
    const ids = keys.map((key) => key.id);
    watch.watch(keys, windowMs, () => redisLimiter.fills(ids));
  }
  const limiter: ProviderRateLimiter = redisLimiter ?? new UnlimitedRateLimiter();
  logger.log(
    `Model calls go to the Anthropic API (default model ${config.anthropicModel}) with ${keys.length} key(s); ` +
      `up to ${config.llmMaxRetries} retries per call; rate limit ${config.llmRequestsPerMinute || 'unlimited'} ` +
      `requests and ${config.llmTokensPerMinute || 'unlimited'} tokens per minute per key.`,
  );
  return new ResilientLlmClient(
    pool,
    limiter,
    {
      maxRetries: config.llmMaxRetries,
      baseMs: config.llmRetryBaseMs ?? 500,
      maxDelayMs: config.llmRetryMaxDelayMs ?? 8_000,
    },
    config.anthropicModel,
    sleep,
    { onRetry: (error) => retries?.inc({ kind: error.kind }) },
  );
}

export function createPriceTable(config: AppConfig, metrics?: Metrics): PriceTable {
  const logger = new Logger('Pricing');
  const unknown = metrics?.counter(
    'llm_unknown_model_prices_total',
    'Models priced at UNKNOWN_MODEL_PRICE_JSON because the price table does not know them.',
    ['model'],
  );
  return PriceTable.fromConfig(config, (model, fallback) => {
    unknown?.inc({ model });
    logger.warn(
      `The model "${model}" has no price in the table: its calls are costed at the default price ` +
        `(${fallback.input}/${fallback.output} USD per million input/output tokens) and flagged. ` +
        'Add it to MODEL_PRICES_JSON.',
    );
  });
}

@Module({
  providers: [
    {
      provide: RateLimitWatch,
      inject: [AppConfig, RedisService, Metrics],
      useFactory: (config: AppConfig, redis: RedisService, metrics: Metrics) =>
        new RateLimitWatch({ ratio: config.rateLimitAlertRatio ?? 0.8, redis: redis.client, metrics }),
    },
    {
      provide: LlmClient,
      inject: [AppConfig, RedisService, Metrics, RateLimitWatch],
      useFactory: (config: AppConfig, redis: RedisService, metrics: Metrics, watch: RateLimitWatch) =>
        createLlmClient(config, { redis: redis.client, metrics, watch }),
    },
    {
      provide: PriceTable,
      inject: [AppConfig, Metrics],
      useFactory: (config: AppConfig, metrics: Metrics) => createPriceTable(config, metrics),
    },
  ],
  exports: [LlmClient, PriceTable, RateLimitWatch],
})
export class LlmModule {}
