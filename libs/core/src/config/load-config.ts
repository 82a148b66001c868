// Turns the environment into an AppConfig, or stops with one sentence naming the variable at fault.
import { AppConfig, NodeEnv } from './app-config';

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
  config.databaseUrl = url(env, 'DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/agent_backend', [
    'postgres:',
    'postgresql:',
  ])!;
  config.databasePoolSize = int(env, 'DATABASE_POOL_SIZE', 10, 1, 500);
  config.databaseMigrate = bool(env, 'DATABASE_MIGRATE', nodeEnv !== 'production');
  config.redisUrl = url(env, 'REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:'])!;
  config.bodyLimitBytes = int(env, 'BODY_LIMIT_BYTES', 1_048_576, 1024);
  config.defaultTenant = read(env, 'DEFAULT_TENANT') ?? 'default';
  config.anthropicApiKey = read(env, 'ANTHROPIC_API_KEY') ?? '';
  config.anthropicBaseUrl = url(env, 'ANTHROPIC_BASE_URL', undefined, ['http:', 'https:']);
  config.anthropicModel = read(env, 'ANTHROPIC_MODEL') ?? 'claude-sonnet-4-6';
  config.llmMaxTokens = int(env, 'LLM_MAX_TOKENS', 4096, 1, 200_000);
  config.llmTimeoutMs = int(env, 'LLM_TIMEOUT_MS', 120_000, 100);
  config.llmMaxRetries = int(env, 'LLM_MAX_RETRIES', 2, 0, 10);
  config.offlineModelPaceMs = int(env, 'OFFLINE_MODEL_PACE_MS', 25, 0, 10_000);
  config.toolTimeoutMs = int(env, 'TOOL_TIMEOUT_MS', 10_000, 1);
  config.idempotencyTtlSeconds = int(env, 'IDEMPOTENCY_TTL_SECONDS', 86_400, 1);
  config.lockTtlMs = int(env, 'CONVERSATION_LOCK_TTL_MS', 30_000, 1000);
  return config;
}
