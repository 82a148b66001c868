// The typed, validated configuration: read once from the environment at boot, injected everywhere as AppConfig.
export type NodeEnv = 'development' | 'production' | 'test';
export type LogFormat = 'json' | 'pretty';

/** USD per million tokens; cache writes and reads are priced apart from plain input. */
export interface ModelPriceSetting {
  input: number;
  output: number;
  cacheWrite: number;
  cacheRead: number;
}

export class AppConfig {
  nodeEnv: NodeEnv;
  port: number;
  host: string;
  logLevel: string;
  /** `pretty`: readable lines through pino-pretty when it is installed (the development default); `json`: pino's JSON lines. */
  logFormat: LogFormat;
  databaseUrl: string;
  databasePoolSize: number;
  databaseMigrate: boolean;
  redisUrl: string;
  bodyLimitBytes: number;
  /** The body limit of the routes that take a user message (chat, chat stream, tasks): images and PDFs are large. */
  messageBodyLimitBytes: number;
  /** Decoded bytes of one base64 image in a message. */
  maxImageBytes: number;
  /** Decoded bytes of one base64 PDF in a message. */
  maxDocumentBytes: number;
  /** Content blocks in one message. */
  maxMessageBlocks: number;
  /** The tenant of the admin key bootstrapped from ADMIN_API_KEY (and of the local development key). */
  defaultTenant: string;
  /** Empty when unset; else an admin key that is made to exist at boot. */
  adminApiKey: string;
  /** Where a development server without ADMIN_API_KEY keeps the local admin key it generated. */
  localAdminKeyFile: string;
  /** How long a validated API key is trusted without asking the database (0: never cached). */
  apiKeyCacheTtlMs: number;
  /**
   * How long an instance trusts its cached agent definitions without asking PostgreSQL (0: never cached). Writes
   * are broadcast on Redis, so this only bounds staleness while that broadcast is interrupted.
   */
  agentCacheTtlMs: number;
  /** Requests one API key may make per window, across every instance (0: no limit). */
  rateLimitRequests: number;
  rateLimitWindowSeconds: number;
  /** Socket.IO connections one API key may hold open at once, across every instance (0: no limit). */
  socketMaxConnectionsPerKey: number;
  /** Requests failing authentication one client address may make per window before it gets 429 (0: no limit). */
  unauthenticatedRateLimitRequests: number;
  /**
   * Which proxies' X-Forwarded-For is believed for the client address (Fastify's trustProxy): true, false, or
   * addresses, CIDR ranges and the presets loopback, linklocal, uniquelocal.
   */
  trustProxy: boolean | string[];
  /** Origins browsers may call the API from; empty: no CORS headers at all. `*` is any origin. */
  corsOrigins: string[];
  /** Where the built console (apps/console) is served from at /console: an absolute directory. */
  consoleDir: string;
  corsAllowCredentials: boolean;
  /** Empty when no key is set: the offline demo model is used instead of the provider. */
  anthropicApiKey: string;
  /**
   * The key pool: ANTHROPIC_API_KEYS (comma-separated) followed by ANTHROPIC_API_KEY, without duplicates.
   * Empty: the offline demo model.
   */
  anthropicApiKeys: string[];
  anthropicBaseUrl: string | undefined;
  anthropicModel: string;
  llmMaxTokens: number;
  /**
   * Context window overrides and additions, in tokens, by model (a dated id matches its family); `*` sets the
   * window of a model the table does not know (MODEL_CONTEXT_WINDOWS).
   */
  modelContextWindows: Record<string, number>;
  /** The longest summary one compaction call may write, in tokens (CONTEXT_SUMMARY_MAX_TOKENS). */
  contextSummaryMaxTokens: number;
  /** Automatic prompt-cache breakpoints on the tools, the system prompt and the conversation's tail. */
  promptCaching: boolean;
  llmTimeoutMs: number;
  /**
   * What carries the SDK's HTTP requests: `undici` (default), undici's `request` over a keep-alive agent, read as
   * Node streams; `fetch`, Node's global fetch (the SDK's own default).
   */
  llmHttpClient: 'undici' | 'fetch';
  /** Retries of one model call by our retry policy (the SDK's own retries are off, so the two never multiply). */
  llmMaxRetries: number;
  /** Full-jitter backoff: the n-th retry waits a random time in [0, min(max, base·2ⁿ)). */
  llmRetryBaseMs: number;
  /** The cap of a backoff delay, and of a `retry-after` the provider sends with a 529 or 5xx. */
  llmRetryMaxDelayMs: number;
  /** Requests per minute per provider key, across every instance (0: no limit). */
  llmRequestsPerMinute: number;
  /** Tokens (input estimate + max_tokens, settled to the real count) per minute per provider key (0: no limit). */
  llmTokensPerMinute: number;
  /** The buckets' refill period: a full bucket refills in this long (60000: per-minute limits). */
  llmRateLimitWindowMs: number;
  /** How long a model call may wait its turn for the rate limit (or a key's 429 back-off) before it fails. */
  llmRateLimitMaxWaitMs: number;
  /** A key's request or token window this full (a share of its capacity) logs a warning and sends an alert, once per window (0: never). */
  rateLimitAlertRatio: number;
  /** Price overrides and additions, USD per million tokens, by model (a dated id matches its family). */
  modelPrices: Record<string, ModelPriceSetting>;
  /** The price of a model the table does not know (such calls are flagged). */
  unknownModelPrice: ModelPriceSetting;
  /** Cost ceiling of one conversation in USD (default 5; 0: none); a user key may lower it per conversation, an admin key may also raise or remove it. */
  conversationCostLimitUsd: number;
  /** What one tenant may spend per UTC day in USD (0: no budget). */
  tenantDailyBudgetUsd: number;
  /** A conversation costing this multiple of its agent's recent median raises an anomaly (0: off). */
  anomalyCostMultiple: number;
  /** A conversation costing this much raises an anomaly, whatever the median (0: off). */
  anomalyCostUsd: number;
  /** How many of the agent's most recent conversations (of the tenant) make the median. */
  anomalyBaselineConversations: number;
  /** The multiple applies once the agent has at least this many earlier conversations. */
  anomalyMinBaseline: number;
  /** Where cost anomalies are POSTed, signed with WEBHOOK_SECRET; empty: no alert POST. */
  alertWebhookUrl: string;
  /** Delay between the offline model's streamed deltas. */
  offlineModelPaceMs: number;
  toolTimeoutMs: number;
  idempotencyTtlSeconds: number;
  lockTtlMs: number;
  /** Largest Socket.IO frame a client may send. */
  socketMaxPayloadBytes: number;
  /** Interval of the SSE heartbeat comment. */
  sseHeartbeatMs: number;
  /** How long a conversation's run events stay replayable (resume over Socket.IO and SSE). */
  runEventsRetentionSeconds: number;
  /** How long run events are gathered into one append to the event log (followers on the run's instance never wait). */
  runEventsBatchMs: number;
  /** How often queued runs whose conversation is free are started, and runs whose instance died are closed. */
  runReconcileIntervalMs: number;
  /** How long a tool call waits for a person's decision before it counts as denied. */
  approvalTimeoutSeconds: number;
  /** How often expired approvals are denied and decided runs whose resumption was lost are resumed. */
  approvalSweepIntervalMs: number;
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
  /**
   * The delays (ms) before each retry of a webhook event, in order (WEBHOOK_RETRY_SCHEDULE); an event is attempted
   * once more than it has delays, then given up.
   */
  webhookRetrySchedule: number[];
  webhookTimeoutMs: number;
  /**
   * Hosts an outbound call (webhook_url, ALERT_WEBHOOK_URL, MCP servers) may name although they resolve to loopback,
   * private or link-local addresses (OUTBOUND_ALLOWED_HOSTS, alias WEBHOOK_ALLOWED_HOSTS).
   */
  outboundAllowedHosts: string[];
  /** How often the consumers' process reconciles PostgreSQL with the queues (lost jobs, pending webhooks). */
  reconcileIntervalMs: number;
  /** A separate listener for GET /metrics (then not served on PORT); undefined: /metrics on PORT with a key. */
  metricsPort: number | undefined;
  /** A bearer token that may read /metrics on PORT (besides an admin API key); empty: admin keys only. */
  metricsToken: string;
  /** How long a SIGTERM waits for running turns and jobs before cancelling (turns) or handing back (jobs). */
  shutdownGraceMs: number;
  /**
   * The 32-byte key (SECRETS_KEY, base64 or hex) that encrypts stored secrets such as MCP servers' `headers`
   * (AES-256-GCM); empty: secrets are refused rather than stored in clear.
   */
  secretsKey: string;
  /** How often each registered MCP server's tool list is fetched again (besides its `tools/list_changed`). */
  mcpToolsRefreshSeconds: number;
  /** How long contacting an MCP server (connect, initialize, list its tools) may take. */
  mcpConnectTimeoutMs: number;
}
