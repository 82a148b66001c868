import pino from 'pino';
import { Writable } from 'node:stream';
import { loadConfig } from '../config/load-config';
import { loggerOptions, scrubSecrets } from './logger-options';

const KEY = 'ak_live_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';

function capture(): { logger: pino.Logger; output: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const options = loggerOptions(loadConfig({ LOG_LEVEL: 'trace' })).pinoHttp as pino.LoggerOptions;
  const { redact, hooks, level } = options;
  return { logger: pino({ redact, hooks, level }, destination), output: () => chunks.join('') };
}

describe('log redaction', () => {
  it.each([
    ['a request header', { req: { headers: { authorization: `Bearer ${KEY}` } } }],
    ['a bare headers object', { headers: { authorization: `Bearer ${KEY}` } }],
    ['a nested authorization', { upstream: { authorization: `Bearer ${KEY}` } }],
    ['a Socket.IO handshake', { handshake: { auth: { token: KEY }, headers: {} } }],
    ['a key field', { key: KEY }],
    ['a token field', { token: KEY }],
    ['a nested key field', { created: { key: KEY } }],
    ['the configuration', { config: { adminApiKey: KEY, anthropicApiKey: 'sk-ant-api03-secret' } }],
  ])('removes the key from %s', (_case, object) => {
    const { logger, output } = capture();
    logger.info(object, 'something happened');
    expect(output()).toContain('something happened');
    expect(output()).not.toContain(KEY);
    expect(output()).not.toContain('sk-ant-api03-secret');
  });

  it('masks keys and bearer credentials inside messages', () => {
    const { logger, output } = capture();
    logger.warn(`Refused "Authorization: Bearer ${KEY}" and ${KEY} and sk-ant-api03-abcdefgh`);
    expect(output()).not.toContain(KEY.slice(8));
    expect(output()).not.toContain('abcdefgh');
    expect(output()).toContain('Bearer [redacted]');
    expect(output()).toContain('ak_live_[redacted]');
  });

  it('leaves ordinary text and shell hints alone', () => {
    expect(scrubSecrets('Bearer $(cat .local-admin-key)')).toBe('Bearer $(cat .local-admin-key)');
    expect(scrubSecrets('conversation 4f1c busy')).toBe('conversation 4f1c busy');
  });
});
