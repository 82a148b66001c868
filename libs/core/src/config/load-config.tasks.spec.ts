import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from './load-config';

describe('loadConfig: background tasks and webhooks', () => {
  it('defaults to processors in the API (except in production), Bull prefix "bull" and no webhook secret', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      runWorkersInApi: true,
      queuePrefix: 'bull',
      taskConcurrency: 2,
      taskMaxAttempts: 3,
      taskLockDurationMs: 30_000,
      taskStalledIntervalMs: 30_000,
      taskMaxStalledCount: 2,
      webhookSecret: '',
      webhookAllowedHosts: [],
    });
    expect(loadConfig({ NODE_ENV: 'production' }).runWorkersInApi).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', RUN_WORKERS_IN_API: 'true' }).runWorkersInApi).toBe(true);
  });

  it('reads the allow-list as lower-case hosts, IPv6 brackets removed', () => {
    expect(
      loadConfig({ WEBHOOK_ALLOWED_HOSTS: ' 127.0.0.1, Hooks.Internal ,[::1]' }).webhookAllowedHosts,
    ).toEqual(['127.0.0.1', 'hooks.internal', '::1']);
  });

  it('accepts a Standard Webhooks secret', () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    expect(loadConfig({ WEBHOOK_SECRET: secret }).webhookSecret).toBe(secret);
  });

  it.each([
    [{ WEBHOOK_SECRET: 'plain-text-secret-without-prefix-0123456789' }, 'WEBHOOK_SECRET'],
    [{ WEBHOOK_SECRET: 'whsec_c2hvcnQ=' }, 'WEBHOOK_SECRET'],
    [{ QUEUE_PREFIX: 'has spaces' }, 'QUEUE_PREFIX'],
    [{ TASK_CONCURRENCY: '0' }, 'TASK_CONCURRENCY'],
    [{ TASK_LOCK_DURATION_MS: '10' }, 'TASK_LOCK_DURATION_MS'],
    [{ RUN_WORKERS_IN_API: 'sometimes' }, 'RUN_WORKERS_IN_API'],
    [{ WEBHOOK_ALLOWED_HOSTS: 'http://x/' }, 'WEBHOOK_ALLOWED_HOSTS'],
  ])('refuses %j with one sentence naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable} must `));
  });

  it('never echoes a rejected webhook secret', () => {
    expect(() => loadConfig({ WEBHOOK_SECRET: 'whsec_c2hvcnQ=' })).not.toThrow(/c2hvcnQ/);
  });
});
