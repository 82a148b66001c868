import { ConfigError, loadConfig } from './load-config';

describe('loadConfig', () => {
  it('defaults to the local PostgreSQL and Redis and the offline model', () => {
    const config = loadConfig({});
    expect(config.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/agent_backend');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.anthropicApiKey).toBe('');
    expect(config.port).toBe(3000);
    expect(config.databaseMigrate).toBe(true);
  });

  it('does not migrate at start-up in production unless asked', () => {
    expect(loadConfig({ NODE_ENV: 'production' }).databaseMigrate).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', DATABASE_MIGRATE: 'true' }).databaseMigrate).toBe(true);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://localhost/db' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ DATABASE_MIGRATE: 'maybe' }, 'DATABASE_MIGRATE'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV'],
    [{ ANTHROPIC_BASE_URL: 'ftp://example' }, 'ANTHROPIC_BASE_URL'],
  ])('refuses %j with one sentence naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable} must `));
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ ANTHROPIC_BASE_URL: '', PORT: ' ' }).anthropicBaseUrl).toBeUndefined();
  });
});
