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

describe('loadConfig: API keys, rate limits and CORS', () => {
  it('defaults to cached keys, a generous rate limit and no CORS', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      adminApiKey: '',
      defaultTenant: 'default',
      localAdminKeyFile: '.local-admin-key',
      apiKeyCacheTtlMs: 5000,
      agentCacheTtlMs: 30000,
      rateLimitRequests: 600,
      rateLimitWindowSeconds: 60,
      socketMaxConnectionsPerKey: 100,
      unauthenticatedRateLimitRequests: 60,
      trustProxy: ['loopback', 'linklocal', 'uniquelocal'],
      corsOrigins: [],
      corsAllowCredentials: false,
    });
  });

  it('takes 0 as no cap on the sockets of a key', () => {
    expect(loadConfig({ SOCKET_MAX_CONNECTIONS_PER_KEY: '0' }).socketMaxConnectionsPerKey).toBe(0);
    expect(loadConfig({ SOCKET_MAX_CONNECTIONS_PER_KEY: '3' }).socketMaxConnectionsPerKey).toBe(3);
  });

  it('reads which proxies to believe for the client address', () => {
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(() => loadConfig({ TRUST_PROXY: '2' })).toThrow(/TRUST_PROXY/);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::1' }).trustProxy).toEqual([
      'loopback',
      '10.0.0.0/8',
      'fd00::1',
    ]);
  });

  it('reads an allow-list of origins, and credentials with named origins', () => {
    const config = loadConfig({
      CORS_ORIGINS: 'https://app.example.com, http://localhost:5173,https://app.example.com',
      CORS_ALLOW_CREDENTIALS: 'true',
    });
    expect(config.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(config.corsAllowCredentials).toBe(true);
    expect(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
  });

  it.each([
    [{ ADMIN_API_KEY: 'too-short' }, 'ADMIN_API_KEY'],
    [{ ADMIN_API_KEY: 'has spaces in it but is long enough to pass' }, 'ADMIN_API_KEY'],
    [{ DEFAULT_TENANT: 'acme corp' }, 'DEFAULT_TENANT'],
    [{ API_KEY_CACHE_TTL_MS: '-1' }, 'API_KEY_CACHE_TTL_MS'],
    [{ API_KEY_CACHE_TTL_MS: '3600000' }, 'API_KEY_CACHE_TTL_MS'],
    [{ AGENT_CACHE_TTL_MS: '-5' }, 'AGENT_CACHE_TTL_MS'],
    [{ RATE_LIMIT_REQUESTS: 'lots' }, 'RATE_LIMIT_REQUESTS'],
    [{ RATE_LIMIT_WINDOW_SECONDS: '0' }, 'RATE_LIMIT_WINDOW_SECONDS'],
    [{ SOCKET_MAX_CONNECTIONS_PER_KEY: '-1' }, 'SOCKET_MAX_CONNECTIONS_PER_KEY'],
    [{ SOCKET_MAX_CONNECTIONS_PER_KEY: 'many' }, 'SOCKET_MAX_CONNECTIONS_PER_KEY'],
    [{ UNAUTHENTICATED_RATE_LIMIT_REQUESTS: '-5' }, 'UNAUTHENTICATED_RATE_LIMIT_REQUESTS'],
    [{ TRUST_PROXY: 'my-proxy' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/8/1' }, 'TRUST_PROXY'],
    [{ CORS_ORIGINS: 'app.example.com' }, 'CORS_ORIGINS'],
    [{ CORS_ORIGINS: 'https://app.example.com/path' }, 'CORS_ORIGINS'],
    [{ CORS_ALLOW_CREDENTIALS: 'sometimes' }, 'CORS_ALLOW_CREDENTIALS'],
    [{ CORS_ORIGINS: '*', CORS_ALLOW_CREDENTIALS: 'true' }, 'CORS_ALLOW_CREDENTIALS'],
  ])('refuses %j with one sentence naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable} must `));
  });

  it('never echoes a refused ADMIN_API_KEY', () => {
    expect(() => loadConfig({ ADMIN_API_KEY: 'secret but short' })).toThrow(
      /^ADMIN_API_KEY must be 32 to 512 visible ASCII characters without spaces\.$/,
    );
  });
});
