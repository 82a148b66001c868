import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig, parseDuration } from './load-config';

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
      outboundAllowedHosts: [],
      reconcileIntervalMs: 30_000,
    });
    expect(loadConfig({ NODE_ENV: 'production' }).runWorkersInApi).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', RUN_WORKERS_IN_API: 'true' }).runWorkersInApi).toBe(true);
  });

  it('reads the allow-list as lower-case hosts, IPv6 brackets removed', () => {
    expect(
      loadConfig({ OUTBOUND_ALLOWED_HOSTS: ' 127.0.0.1, Hooks.Internal ,[::1]' }).outboundAllowedHosts,
    ).toEqual(['127.0.0.1', 'hooks.internal', '::1']);
  });

  it('keeps WEBHOOK_ALLOWED_HOSTS as an alias of OUTBOUND_ALLOWED_HOSTS: both lists count', () => {
    expect(loadConfig({ WEBHOOK_ALLOWED_HOSTS: 'hooks.internal' }).outboundAllowedHosts).toEqual([
      'hooks.internal',
    ]);
    expect(
      loadConfig({
        OUTBOUND_ALLOWED_HOSTS: 'mcp.internal,hooks.internal',
        WEBHOOK_ALLOWED_HOSTS: 'hooks.internal',
      }).outboundAllowedHosts,
    ).toEqual(['mcp.internal', 'hooks.internal']);
  });

  describe('WEBHOOK_RETRY_SCHEDULE', () => {
    it('defaults to 5s, 5m, 30m, 2h, 5h, 10h, 10h (about 28 hours, eight attempts)', () => {
      const schedule = loadConfig({}).webhookRetrySchedule;
      expect(schedule).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
      expect(schedule.reduce((sum, ms) => sum + ms, 0) / 3_600_000).toBeCloseTo(27.6, 1);
    });

    it('reads ms, s, m, h and d units, decimals and spaces around the commas', () => {
      expect(loadConfig({ WEBHOOK_RETRY_SCHEDULE: '100ms, 1.5s ,2m,1h,1d' }).webhookRetrySchedule).toEqual([
        100, 1_500, 120_000, 3_600_000, 86_400_000,
      ]);
      expect(loadConfig({ WEBHOOK_RETRY_SCHEDULE: '250ms' }).webhookRetrySchedule).toEqual([250]);
    });

    it.each(['5', '5 s', '-5s', '0s', '5w', '5s,,5m', '8d', 'soon', Array(31).fill('1s').join(',')])(
      'refuses %j',
      (value) => {
        expect(() => loadConfig({ WEBHOOK_RETRY_SCHEDULE: value })).toThrow(
          /^WEBHOOK_RETRY_SCHEDULE must be a comma-separated list of 1 to 30 delays/,
        );
      },
    );

    it('parses one duration, or answers undefined', () => {
      expect(parseDuration('10h')).toBe(36_000_000);
      expect(parseDuration('0.5s')).toBe(500);
      expect(parseDuration('0.1ms')).toBeUndefined();
      expect(parseDuration('')).toBeUndefined();
    });
  });

  it.each(['WEBHOOK_MAX_ATTEMPTS', 'WEBHOOK_BACKOFF_MS'])(
    'stops at boot when the replaced %s is still set, pointing to WEBHOOK_RETRY_SCHEDULE',
    (name) => {
      expect(() => loadConfig({ [name]: '6' })).toThrow(
        new RegExp(`^${name} must be unset: webhook retries follow WEBHOOK_RETRY_SCHEDULE`),
      );
    },
  );

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
    [{ OUTBOUND_ALLOWED_HOSTS: 'http://x/' }, 'OUTBOUND_ALLOWED_HOSTS'],
    [{ RECONCILE_INTERVAL_MS: '10' }, 'RECONCILE_INTERVAL_MS'],
  ])('refuses %j with one sentence naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable} must `));
  });

  it('never echoes a rejected webhook secret', () => {
    expect(() => loadConfig({ WEBHOOK_SECRET: 'whsec_c2hvcnQ=' })).not.toThrow(/c2hvcnQ/);
  });
});
