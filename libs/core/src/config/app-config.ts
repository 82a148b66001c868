// The typed, validated configuration: read once from the environment at boot, injected everywhere as AppConfig.
export type NodeEnv = 'development' | 'production' | 'test';

export class AppConfig {
  nodeEnv: NodeEnv;
  port: number;
  host: string;
  logLevel: string;
  databaseUrl: string;
  databasePoolSize: number;
  databaseMigrate: boolean;
  redisUrl: string;
  bodyLimitBytes: number;
  defaultTenant: string;
  /** Empty when no key is set: the offline demo model is used instead of the provider. */
  anthropicApiKey: string;
  anthropicBaseUrl: string | undefined;
  anthropicModel: string;
  llmMaxTokens: number;
  llmTimeoutMs: number;
  llmMaxRetries: number;
  /** Delay between the offline model's streamed deltas. */
  offlineModelPaceMs: number;
  toolTimeoutMs: number;
  idempotencyTtlSeconds: number;
  lockTtlMs: number;
}
