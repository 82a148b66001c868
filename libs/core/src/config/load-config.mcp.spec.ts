import { randomBytes } from 'node:crypto';
import { loadConfig } from './load-config';

describe('secrets and MCP settings', () => {
  it('defaults: no SECRETS_KEY (secrets refused), tools refreshed every 5 minutes, 10 s to contact a server', () => {
    expect(loadConfig({})).toMatchObject({
      secretsKey: '',
      mcpToolsRefreshSeconds: 300,
      mcpConnectTimeoutMs: 10_000,
    });
  });

  it('reads a 32-byte SECRETS_KEY as base64 or hex', () => {
    const base64 = randomBytes(32).toString('base64');
    const hex = randomBytes(32).toString('hex');
    expect(loadConfig({ SECRETS_KEY: base64 }).secretsKey).toBe(base64);
    expect(loadConfig({ SECRETS_KEY: hex }).secretsKey).toBe(hex);
    expect(loadConfig({ MCP_TOOLS_REFRESH_SECONDS: '60', MCP_CONNECT_TIMEOUT_MS: '500' })).toMatchObject({
      mcpToolsRefreshSeconds: 60,
      mcpConnectTimeoutMs: 500,
    });
  });

  it.each([
    [
      { SECRETS_KEY: randomBytes(16).toString('base64') },
      /SECRETS_KEY must be 32 random bytes as base64 or hex/,
    ],
    [{ SECRETS_KEY: 'not a key' }, /SECRETS_KEY must be 32 random bytes/],
    [{ MCP_TOOLS_REFRESH_SECONDS: '0' }, /MCP_TOOLS_REFRESH_SECONDS must be a whole number from 1/],
    [{ MCP_CONNECT_TIMEOUT_MS: '10' }, /MCP_CONNECT_TIMEOUT_MS must be a whole number from 100/],
  ])('refuses %j with one sentence naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('never echoes a refused SECRETS_KEY', () => {
    expect(() => loadConfig({ SECRETS_KEY: 'secret-value-too-short' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('secret-value') }),
    );
  });
});
