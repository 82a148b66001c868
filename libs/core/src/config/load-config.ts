// Turns the environment into an AppConfig, or stops with one sentence naming the variable at fault.
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { AppConfig, LogFormat, ModelPriceSetting, NodeEnv } from './app-config';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}".`);
  }
  return Number(raw);
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (/^(true|1|yes|on)$/i.test(raw)) return true;
  if (/^(false|0|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}".`);
}

function url(env: Env, name: string, fallback: string | undefined, protocols: string[]): string | undefined {
  const raw = read(env, name) ?? fallback;
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL (${protocols.join(' or ')}), got "${raw}".`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must be a URL (${protocols.join(' or ')}), got "${raw}".`);
  }
  return raw;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!allowed.includes(raw as T)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}".`);
  }
  return raw as T;
}

const TENANT = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

function tenant(env: Env, name: string, fallback: string): string {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!TENANT.test(raw)) {
    throw new ConfigError(
      `${name} must be 1 to 100 letters, digits, '.', '_', ':' or '-' (starting with a letter or digit), got "${raw}".`,
    );
  }
  return raw;
}

/** A secret the operator chose: long enough to resist guessing; never echoed back in the error. */
function secret(env: Env, name: string): string {
  const raw = read(env, name);
  if (raw === undefined) return '';
  if (!/^[\x21-\x7e]{32,512}$/.test(raw)) {
    throw new ConfigError(`${name} must be 32 to 512 visible ASCII characters without spaces.`);
  }
  return raw;
}

function origins(env: Env, name: string): string[] {
  const raw = read(env, name);
  if (raw === undefined) return [];
  const list = raw
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  for (const origin of list) {
    if (origin === '*') continue;
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin) {
      throw new ConfigError(
        `${name} must be "*" or a comma-separated list of origins like https://app.example.com, got "${origin}".`,
      );
    }
  }
  return [...new Set(list)];
}

const QUEUE_PREFIX = /^[A-Za-z0-9][A-Za-z0-9:_-]{0,63}$/;

function queuePrefix(env: Env, name: string): string {
  const raw = read(env, name);
  if (raw === undefined) return 'bull';
  if (!QUEUE_PREFIX.test(raw)) {
    throw new ConfigError(`${name} must be 1 to 64 letters, digits, ':', '_' or '-', got "${raw}".`);
  }
  return raw;
}

/** A Standard Webhooks secret: `whsec_` and the base64 of at least 24 random bytes. Never echoed back. */
function webhookSecret(env: Env, name: string): string {
  const raw = read(env, name);
  if (raw === undefined) return '';
  const encoded = raw.startsWith('whsec_') ? raw.slice('whsec_'.length) : '';
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? Buffer.from(encoded, 'base64').length : 0;
  if (bytes < 24 || bytes > 64) {
    throw new ConfigError(
      `${name} must be "whsec_" followed by the base64 of 24 to 64 random bytes (e.g. "whsec_$(openssl rand -base64 32)").`,
    );
  }
  return raw;
}

/** A 32-byte key given as base64 (44 characters) or hex (64 characters). */
function secretsKey(env: Env, name: string): string {
  const raw = read(env, name);
  if (raw === undefined) return '';
  const bytes = /^[0-9a-fA-F]{64}$/.test(raw)
    ? 32
    : /^[A-Za-z0-9+/]{43}=?$/.test(raw)
      ? Buffer.from(raw, 'base64').length
      : 0;
  if (bytes !== 32) {
    throw new ConfigError(
      `${name} must be 32 random bytes as base64 or hex (e.g. "$(openssl rand -base64 32)").`,
    );
  }
  return raw;
}

function hosts(env: Env, name: string): string[] {
  const raw = read(env, name);
  if (raw === undefined) return [];
  const list = raw
    .split(',')
    .map((host) =>
      host
        .trim()
        .toLowerCase()
        .replace(/^\[(.*)\]$/, '$1'),
    )
    .filter(Boolean);
  for (const host of list) {
    if (!/^[a-z0-9.:_-]{1,253}$/.test(host)) {
      throw new ConfigError(
        `${name} must be a comma-separated list of host names or IP addresses, got "${host}".`,
      );
    }
  }
  return [...new Set(list)];
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** The longest single delay a schedule may hold: a week. */
const MAX_DELAY_MS = 7 * 86_400_000;

/** `5s`, `250ms`, `1.5h`: a duration in milliseconds, or undefined when it is not one. */
export function parseDuration(raw: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(raw.trim());
  if (!match) return undefined;
  const ms = Math.round(Number(match[1]) * DURATION_UNITS[match[2]]);
  return ms >= 1 && ms <= MAX_DELAY_MS ? ms : undefined;
}

/** A comma-separated list of 1 to 30 durations (ms, s, m, h or d), e.g. `5s,5m,30m,2h`. */
function durations(env: Env, name: string, fallback: string): number[] {
  const raw = read(env, name) ?? fallback;
  const parts = raw.split(',').map((part) => part.trim());
  const list = parts.map(parseDuration);
  if (parts.length > 30 || list.some((ms) => ms === undefined)) {
    throw new ConfigError(
      `${name} must be a comma-separated list of 1 to 30 delays from 1ms to 7d, each a number and a unit ` +
        `(ms, s, m, h, d) like "5s,5m,30m,2h", got "${raw}".`,
    );
  }
  return list as number[];
}

/** A non-negative decimal such as a USD amount or a multiple. */
const PROXY_PRESETS = ['loopback', 'linklocal', 'uniquelocal'];

/** `true`, `false`, or a list of addresses, CIDR ranges and the presets above. */
function trustProxy(env: Env, name: string): boolean | string[] {
  const raw = read(env, name);
  if (raw === undefined) return [...PROXY_PRESETS];
  if (raw === 'true' || raw === 'false') return raw === 'true';
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address, prefix, extra] = entry.split('/');
    const validPrefix = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= 128);
    if (!PROXY_PRESETS.includes(entry) && (extra !== undefined || !isIP(address) || !validPrefix)) {
      throw new ConfigError(
        `${name} must be true, false, or comma-separated addresses, CIDR ranges and ` +
          `${PROXY_PRESETS.join(', ')}; "${entry}" is none of these.`,
      );
    }
  }
  return entries;
}

function decimal(env: Env, name: string, fallback: number, max = 1_000_000_000): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) > max) {
    throw new ConfigError(`${name} must be a number from 0 to ${max} (e.g. 2.5), got "${raw}".`);
  }
  return Number(raw);
}

/** Provider keys: ANTHROPIC_API_KEYS (comma-separated) then ANTHROPIC_API_KEY, without duplicates. Never echoed. */
function providerKeys(env: Env): string[] {
  const list = (read(env, 'ANTHROPIC_API_KEYS') ?? '')
    .split(',')
    .map((key) => key.trim())
    .filter(Boolean);
  if (list.some((key) => !/^[\x21-\x7e]{8,512}$/.test(key))) {
    throw new ConfigError(
      'ANTHROPIC_API_KEYS must be a comma-separated list of API keys (8 to 512 visible characters each).',
    );
  }
  const single = read(env, 'ANTHROPIC_API_KEY');
  return [...new Set(single ? [...list, single] : list)];
}

/**
 * The ceiling of a conversation that sets none (CONVERSATION_COST_LIMIT_USD). A support conversation on
 * Sonnet costs cents; 5 USD stops a runaway tool loop or an endless conversation at 100× that, long before
 * it shows on an invoice, and leaves room for long tasks. 0 turns it off.
 */
export const DEFAULT_CONVERSATION_COST_LIMIT_USD = 5;

const PRICE_FIELDS = {
  input: 'input',
  output: 'output',
  cache_write: 'cacheWrite',
  cache_read: 'cacheRead',
} as const;
const PRICE_SHAPE =
  '{"input": 3, "output": 15, "cache_write": 3.75, "cache_read": 0.3} (USD per million tokens)';

function priceOf(value: unknown): ModelPriceSetting | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const entries = Object.entries(value as Record<string, unknown>);
  const price: Partial<ModelPriceSetting> = {};
  for (const [field, amount] of entries) {
    const key = PRICE_FIELDS[field as keyof typeof PRICE_FIELDS];
    if (!key || typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) return undefined;
    price[key] = amount;
  }
  if (price.input === undefined || price.output === undefined) return undefined;
  // Without cache prices the provider's usual ratios apply: writes 1.25×, reads 0.1× the input price.
  return {
    input: price.input,
    output: price.output,
    cacheWrite: price.cacheWrite ?? price.input * 1.25,
    cacheRead: price.cacheRead ?? price.input * 0.1,
  };
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function modelPrices(env: Env, name: string): Record<string, ModelPriceSetting> {
  const raw = read(env, name);
  if (raw === undefined) return {};
  const parsed = parseJson(raw);
  const prices: Record<string, ModelPriceSetting> = {};
  const valid =
    parsed !== null &&
    typeof parsed === 'object' &&
    !Array.isArray(parsed) &&
    Object.entries(parsed as Record<string, unknown>).every(([model, value]) => {
      const price = priceOf(value);
      if (price && /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}$/.test(model)) prices[model] = price;
      return price !== undefined;
    });
  if (!valid || Object.keys(prices).length !== Object.keys(parsed as object).length) {
    throw new ConfigError(`${name} must be a JSON object of model names to prices like ${PRICE_SHAPE}.`);
  }
  return prices;
}

/** `claude-sonnet-4-6=1000000,*=100000`: context windows in tokens by model (`*`: a model the table does not know). */
function contextWindows(env: Env, name: string): Record<string, number> {
  const raw = read(env, name);
  if (raw === undefined) return {};
  const windows: Record<string, number> = {};
  for (const entry of raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const match = /^([A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}|\*)=(\d{1,9})$/.exec(entry);
    if (!match || Number(match[2]) < 1_000) {
      throw new ConfigError(
        `${name} must be a comma-separated list of model=tokens pairs (at least 1000 tokens each; "*" for any ` +
          `other model) like "claude-sonnet-4-6=200000,*=100000", got "${entry}".`,
      );
    }
    windows[match[1]] = Number(match[2]);
  }
  return windows;
}

function modelPrice(env: Env, name: string, fallback: ModelPriceSetting): ModelPriceSetting {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const price = priceOf(parseJson(raw));
  if (!price) throw new ConfigError(`${name} must be a JSON price like ${PRICE_SHAPE}.`);
  return price;
}

export function loadConfig(env: Env): AppConfig {
  const nodeEnv = oneOf<NodeEnv>(env, 'NODE_ENV', 'development', ['development', 'production', 'test']);
  const config = new AppConfig();
  config.nodeEnv = nodeEnv;
  config.port = int(env, 'PORT', 3000, 0, 65535);
  config.host = read(env, 'HOST') ?? '0.0.0.0';
  config.logLevel = oneOf(env, 'LOG_LEVEL', nodeEnv === 'test' ? 'warn' : 'info', [
    'trace',
    'debug',
    'info',
    'warn',
    'error',
    'fatal',
    'silent',
  ]);
  config.logFormat = oneOf<LogFormat>(env, 'LOG_FORMAT', nodeEnv === 'development' ? 'pretty' : 'json', [
    'json',
    'pretty',
  ]);
  config.databaseUrl = url(env, 'DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/agent_backend', [
    'postgres:',
    'postgresql:',
  ])!;
  config.databasePoolSize = int(env, 'DATABASE_POOL_SIZE', 10, 1, 500);
  config.databaseMigrate = bool(env, 'DATABASE_MIGRATE', nodeEnv !== 'production');
  config.redisUrl = url(env, 'REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:'])!;
  config.bodyLimitBytes = int(env, 'BODY_LIMIT_BYTES', 1_048_576, 1024);
  config.maxImageBytes = int(env, 'MAX_IMAGE_BYTES', 5_242_880, 1024);
  config.maxDocumentBytes = int(env, 'MAX_DOCUMENT_BYTES', 10_485_760, 1024);
  config.maxMessageBlocks = int(env, 'MAX_MESSAGE_BLOCKS', 20, 1, 1000);
  // Room for one document of the largest size, base64 (4/3) and JSON framing: what a message body can need.
  config.messageBodyLimitBytes = int(
    env,
    'MESSAGE_BODY_LIMIT_BYTES',
    Math.max(config.bodyLimitBytes, 16_777_216),
    config.bodyLimitBytes,
  );
  config.defaultTenant = tenant(env, 'DEFAULT_TENANT', 'default');
  config.adminApiKey = secret(env, 'ADMIN_API_KEY');
  config.localAdminKeyFile = read(env, 'LOCAL_ADMIN_KEY_FILE') ?? '.local-admin-key';
  config.apiKeyCacheTtlMs = int(env, 'API_KEY_CACHE_TTL_MS', 5_000, 0, 60_000);
  config.agentCacheTtlMs = int(env, 'AGENT_CACHE_TTL_MS', 30_000, 0, 3_600_000);
  config.rateLimitRequests = int(env, 'RATE_LIMIT_REQUESTS', 600, 0, 1_000_000);
  config.rateLimitWindowSeconds = int(env, 'RATE_LIMIT_WINDOW_SECONDS', 60, 1, 86_400);
  config.socketMaxConnectionsPerKey = int(env, 'SOCKET_MAX_CONNECTIONS_PER_KEY', 100, 0, 1_000_000);
  config.unauthenticatedRateLimitRequests = int(env, 'UNAUTHENTICATED_RATE_LIMIT_REQUESTS', 60, 0, 1_000_000);
  config.trustProxy = trustProxy(env, 'TRUST_PROXY');
  config.corsOrigins = origins(env, 'CORS_ORIGINS');
  // Relative to the working directory, like `npm start` and the image's WORKDIR: the build writes dist/console.
  config.consoleDir = resolve(read(env, 'CONSOLE_DIR') ?? 'dist/console');
  config.corsAllowCredentials = bool(env, 'CORS_ALLOW_CREDENTIALS', false);
  if (config.corsAllowCredentials && config.corsOrigins.includes('*')) {
    throw new ConfigError(
      'CORS_ALLOW_CREDENTIALS must be false while CORS_ORIGINS is "*": name the allowed origins instead.',
    );
  }
  config.anthropicApiKeys = providerKeys(env);
  config.anthropicApiKey = read(env, 'ANTHROPIC_API_KEY') ?? config.anthropicApiKeys[0] ?? '';
  config.anthropicBaseUrl = url(env, 'ANTHROPIC_BASE_URL', undefined, ['http:', 'https:']);
  config.anthropicModel = read(env, 'ANTHROPIC_MODEL') ?? 'claude-sonnet-4-6';
  config.llmMaxTokens = int(env, 'LLM_MAX_TOKENS', 4096, 1, 200_000);
  config.llmTimeoutMs = int(env, 'LLM_TIMEOUT_MS', 120_000, 100);
  config.llmHttpClient = oneOf(env, 'LLM_HTTP_CLIENT', 'undici', ['undici', 'fetch'] as const);
  config.modelContextWindows = contextWindows(env, 'MODEL_CONTEXT_WINDOWS');
  config.contextSummaryMaxTokens = int(env, 'CONTEXT_SUMMARY_MAX_TOKENS', 2048, 64, 32_000);
  config.promptCaching = bool(env, 'PROMPT_CACHING', true);
  config.llmMaxRetries = int(env, 'LLM_MAX_RETRIES', 2, 0, 10);
  config.llmRetryBaseMs = int(env, 'LLM_RETRY_BASE_MS', 500, 1, 60_000);
  config.llmRetryMaxDelayMs = int(env, 'LLM_RETRY_MAX_DELAY_MS', 8_000, 1, 300_000);
  if (config.llmRetryMaxDelayMs < config.llmRetryBaseMs) {
    throw new ConfigError(
      `LLM_RETRY_MAX_DELAY_MS must be at least LLM_RETRY_BASE_MS (${config.llmRetryBaseMs}), got "${config.llmRetryMaxDelayMs}".`,
    );
  }
  config.llmRequestsPerMinute = int(env, 'LLM_REQUESTS_PER_MINUTE', 0, 0, 1_000_000);
  config.llmTokensPerMinute = int(env, 'LLM_TOKENS_PER_MINUTE', 0, 0, 1_000_000_000);
  config.llmRateLimitWindowMs = int(env, 'LLM_RATE_LIMIT_WINDOW_MS', 60_000, 100, 3_600_000);
  config.llmRateLimitMaxWaitMs = int(env, 'LLM_RATE_LIMIT_MAX_WAIT_MS', 10_000, 0, 600_000);
  config.rateLimitAlertRatio = decimal(env, 'RATE_LIMIT_ALERT_RATIO', 0.8, 1);
  config.modelPrices = modelPrices(env, 'MODEL_PRICES_JSON');
  config.unknownModelPrice = modelPrice(env, 'UNKNOWN_MODEL_PRICE_JSON', {
    input: 3,
    output: 15,
    cacheWrite: 3.75,
    cacheRead: 0.3,
  });
  config.conversationCostLimitUsd = decimal(
    env,
    'CONVERSATION_COST_LIMIT_USD',
    DEFAULT_CONVERSATION_COST_LIMIT_USD,
  );
  config.tenantDailyBudgetUsd = decimal(env, 'TENANT_DAILY_BUDGET_USD', 0);
  config.anomalyCostMultiple = decimal(env, 'ANOMALY_COST_MULTIPLE', 10, 10_000);
  if (config.anomalyCostMultiple > 0 && config.anomalyCostMultiple <= 1) {
    throw new ConfigError(
      `ANOMALY_COST_MULTIPLE must be 0 (off) or more than 1, got "${config.anomalyCostMultiple}".`,
    );
  }
  config.anomalyCostUsd = decimal(env, 'ANOMALY_COST_USD', 0);
  config.anomalyBaselineConversations = int(env, 'ANOMALY_BASELINE_CONVERSATIONS', 50, 1, 10_000);
  config.anomalyMinBaseline = int(env, 'ANOMALY_MIN_BASELINE', 5, 1, 10_000);
  config.offlineModelPaceMs = int(env, 'OFFLINE_MODEL_PACE_MS', 25, 0, 10_000);
  config.toolTimeoutMs = int(env, 'TOOL_TIMEOUT_MS', 10_000, 1);
  config.idempotencyTtlSeconds = int(env, 'IDEMPOTENCY_TTL_SECONDS', 86_400, 1);
  config.lockTtlMs = int(env, 'CONVERSATION_LOCK_TTL_MS', 30_000, 1000);
  config.socketMaxPayloadBytes = int(env, 'SOCKET_MAX_PAYLOAD_BYTES', 65_536, 1024, 10_485_760);
  config.sseHeartbeatMs = int(env, 'SSE_HEARTBEAT_MS', 15_000, 100);
  config.runEventsRetentionSeconds = int(env, 'RUN_EVENTS_RETENTION_SECONDS', 900, 1, 7 * 86_400);
  config.runEventsBatchMs = int(env, 'RUN_EVENTS_BATCH_MS', 5, 0, 1_000);
  config.runReconcileIntervalMs = int(env, 'RUN_RECONCILE_INTERVAL_MS', 5_000, 100, 3_600_000);
  config.approvalTimeoutSeconds = int(env, 'APPROVAL_TIMEOUT_SECONDS', 86_400, 1, 90 * 86_400);
  config.approvalSweepIntervalMs = int(env, 'APPROVAL_SWEEP_INTERVAL_MS', 5_000, 100, 3_600_000);
  config.queuePrefix = queuePrefix(env, 'QUEUE_PREFIX');
  config.runWorkersInApi = bool(env, 'RUN_WORKERS_IN_API', nodeEnv !== 'production');
  config.taskConcurrency = int(env, 'TASK_CONCURRENCY', 2, 1, 100);
  config.taskMaxAttempts = int(env, 'TASK_MAX_ATTEMPTS', 3, 1, 20);
  config.taskBackoffMs = int(env, 'TASK_BACKOFF_MS', 5_000, 1, 3_600_000);
  config.taskLockDurationMs = int(env, 'TASK_LOCK_DURATION_MS', 30_000, 1_000, 3_600_000);
  config.taskStalledIntervalMs = int(env, 'TASK_STALLED_INTERVAL_MS', 30_000, 500, 3_600_000);
  config.taskMaxStalledCount = int(env, 'TASK_MAX_STALLED_COUNT', 2, 0, 100);
  config.webhookSecret = webhookSecret(env, 'WEBHOOK_SECRET');
  for (const replaced of ['WEBHOOK_MAX_ATTEMPTS', 'WEBHOOK_BACKOFF_MS']) {
    if (read(env, replaced) !== undefined) {
      throw new ConfigError(
        `${replaced} must be unset: webhook retries follow WEBHOOK_RETRY_SCHEDULE (e.g. "5s,5m,30m,2h,5h,10h,10h").`,
      );
    }
  }
  config.webhookRetrySchedule = durations(env, 'WEBHOOK_RETRY_SCHEDULE', '5s,5m,30m,2h,5h,10h,10h');
  config.webhookTimeoutMs = int(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000);
  // WEBHOOK_ALLOWED_HOSTS is the allow-list's first name, still read: both lists count.
  config.outboundAllowedHosts = [
    ...new Set([...hosts(env, 'OUTBOUND_ALLOWED_HOSTS'), ...hosts(env, 'WEBHOOK_ALLOWED_HOSTS')]),
  ];
  config.reconcileIntervalMs = int(env, 'RECONCILE_INTERVAL_MS', 30_000, 100, 3_600_000);
  config.metricsPort =
    read(env, 'METRICS_PORT') === undefined ? undefined : int(env, 'METRICS_PORT', 0, 0, 65535);
  if (config.metricsPort !== undefined && config.metricsPort !== 0 && config.metricsPort === config.port) {
    throw new ConfigError(
      `METRICS_PORT must differ from PORT (${config.port}): it is a listener of its own.`,
    );
  }
  config.metricsToken = secret(env, 'METRICS_TOKEN');
  config.shutdownGraceMs = int(env, 'SHUTDOWN_GRACE_MS', 25_000, 0, 3_600_000);
  config.secretsKey = secretsKey(env, 'SECRETS_KEY');
  config.mcpToolsRefreshSeconds = int(env, 'MCP_TOOLS_REFRESH_SECONDS', 300, 1, 86_400);
  config.mcpConnectTimeoutMs = int(env, 'MCP_CONNECT_TIMEOUT_MS', 10_000, 100, 120_000);
  config.alertWebhookUrl = url(env, 'ALERT_WEBHOOK_URL', undefined, ['http:', 'https:']) ?? '';
  if (config.alertWebhookUrl && !config.webhookSecret) {
    throw new ConfigError('ALERT_WEBHOOK_URL must be used with WEBHOOK_SECRET, which signs the alerts.');
  }
  return config;
}
