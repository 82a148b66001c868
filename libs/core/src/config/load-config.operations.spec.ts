import { resolve } from 'node:path';
import { loadConfig } from './load-config';

describe('operations settings', () => {
  it('defaults: /metrics on the API port, no scrape token, a 25 s grace period', () => {
    expect(loadConfig({})).toMatchObject({
      metricsPort: undefined,
      metricsToken: '',
      shutdownGraceMs: 25_000,
    });
  });

  it('reads METRICS_PORT, METRICS_TOKEN and SHUTDOWN_GRACE_MS', () => {
    const token = 'scrape-0123456789abcdef0123456789abcdef';
    expect(
      loadConfig({ METRICS_PORT: '9464', METRICS_TOKEN: token, SHUTDOWN_GRACE_MS: '5000' }),
    ).toMatchObject({ metricsPort: 9464, metricsToken: token, shutdownGraceMs: 5000 });
    expect(loadConfig({ METRICS_PORT: '0' }).metricsPort).toBe(0);
  });

  it.each([
    [{ METRICS_PORT: 'metrics' }, /METRICS_PORT must be a whole number from 0 to 65535/],
    [{ METRICS_PORT: '3000', PORT: '3000' }, /METRICS_PORT must differ from PORT \(3000\)/],
    [{ METRICS_TOKEN: 'short' }, /METRICS_TOKEN must be 32 to 512 visible ASCII characters/],
    [{ SHUTDOWN_GRACE_MS: '-1' }, /SHUTDOWN_GRACE_MS must be a whole number from 0 to 3600000/],
  ])('refuses %j with one sentence naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('never echoes a refused METRICS_TOKEN', () => {
    expect(() => loadConfig({ METRICS_TOKEN: 'secret value' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('secret value') }),
    );
  });
});

describe('the console setting', () => {
  it('serves the console from dist/console under the working directory by default', () => {
    expect(loadConfig({}).consoleDir).toBe(resolve(process.cwd(), 'dist/console'));
  });

  it('reads CONSOLE_DIR, relative to the working directory or absolute', () => {
    expect(loadConfig({ CONSOLE_DIR: 'build/console' }).consoleDir).toBe(
      resolve(process.cwd(), 'build/console'),
    );
    expect(loadConfig({ CONSOLE_DIR: '/srv/console' }).consoleDir).toBe('/srv/console');
  });
});
