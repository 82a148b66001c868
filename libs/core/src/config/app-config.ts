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
  /** The tenant of the admin key bootstrapped from ADMIN_API_KEY (and of the local development key). */
  defaultTenant: string;
  /** Empty when unset; else an admin key that is made to exist at boot. */
  adminApiKey: string;
  /** Where a development server without ADMIN_API_KEY keeps the local admin key it generated. */
  localAdminKeyFile: string;
  /** How long a validated API key is trusted without asking the database (0: never cached). */
  apiKeyCacheTtlMs: number;
  /** Requests one API key may make per window, across every instance (0: no limit). */
  rateLimitRequests: number;
  rateLimitWindowSeconds: number;
  /** Origins browsers may call the API from; empty: no CORS headers at all. `*` is any origin. */
  corsOrigins: string[];
  corsAllowCredentials: boolean;
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
  /** Largest Socket.IO frame a client may send. */
  socketMaxPayloadBytes: number;
  /** Interval of the SSE heartbeat comment. */
  sseHeartbeatMs: number;
  /** Prefix of the Bull queues' Redis keys; deployments (or test runs) sharing a Redis use distinct ones. */
  queuePrefix: string;
  /** The API process runs the queue processors itself (a single-machine install needs no worker). */
  runWorkersInApi: boolean;
  /** Agent tasks one worker process runs at once. */
  taskConcurrency: number;
  /** Runs of a task whose failure is transient (429, 529, 5xx, timeouts) before it ends `failed`. */
  taskMaxAttempts: number;
  /** Delay before the first retry of a task; it doubles with each further retry. */
  taskBackoffMs: number;
  /** How long a worker's lock on a running task lives without renewal; a killed worker's task is re-queued after it. */
  taskLockDurationMs: number;
  /** How often workers look for running tasks whose worker died. */
  taskStalledIntervalMs: number;
  /** How often a task may be re-queued after its worker died before it ends `failed`. */
  taskMaxStalledCount: number;
  /** The key that signs webhooks (`whsec_` + base64); empty: tasks with a webhook_url are refused. */
  webhookSecret: string;
  webhookMaxAttempts: number;
  /** Delay before the first retry of a webhook; it doubles with each further retry. */
  webhookBackoffMs: number;
  webhookTimeoutMs: number;
  /** Hosts a webhook_url may name even though they resolve to loopback, private or link-local addresses. */
  webhookAllowedHosts: string[];
}
