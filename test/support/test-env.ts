// The environment every e2e test boots the app with: the local services, a dedicated test database.
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/agent_backend_test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/1';

export function testEnv(
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_MIGRATE: 'false',
    DATABASE_POOL_SIZE: '5',
    REDIS_URL: TEST_REDIS_URL,
    OFFLINE_MODEL_PACE_MS: '0',
    // Every test client is 127.0.0.1: the suite's many deliberate 401s would add up to a per-address block.
    // test/unauthenticated-limit.e2e-spec.ts turns it on.
    UNAUTHENTICATED_RATE_LIMIT_REQUESTS: '0',
    ...overrides,
  };
}
