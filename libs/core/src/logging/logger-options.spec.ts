import pino from 'pino';
import { Writable } from 'node:stream';
import { loadConfig } from '../config/load-config';
import { loggerOptions, prettyDestination, scrubSecrets } from './logger-options';

const KEY = 'ak_live_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';

function sink(): { destination: Writable; output: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { destination, output: () => chunks.join('') };
}

function capture(): { logger: pino.Logger; output: () => string } {
  const { destination, output } = sink();
  const options = loggerOptions(loadConfig({ LOG_LEVEL: 'trace', LOG_FORMAT: 'json' }))
    .pinoHttp as pino.LoggerOptions;
  const { redact, hooks, level } = options;
  return { logger: pino({ redact, hooks, level }, destination), output };
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

describe('log format', () => {
  it('is readable in development and JSON in production and tests, unless LOG_FORMAT says otherwise', () => {
    expect(loadConfig({ NODE_ENV: 'development' }).logFormat).toBe('pretty');
    expect(loadConfig({}).logFormat).toBe('pretty');
    expect(loadConfig({ NODE_ENV: 'production' }).logFormat).toBe('json');
    expect(loadConfig({ NODE_ENV: 'test' }).logFormat).toBe('json');
    expect(loadConfig({ NODE_ENV: 'development', LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(loadConfig({ NODE_ENV: 'production', LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(() => loadConfig({ LOG_FORMAT: 'text' })).toThrow(
      'LOG_FORMAT must be one of json, pretty, got "text".',
    );
  });

  it('writes one readable line per record in pretty format, with the context fields and secrets still redacted', async () => {
    const { destination, output } = sink();
    const [options, pretty] = loggerOptions(
      loadConfig({ NODE_ENV: 'development' }),
      destination as unknown as pino.DestinationStream,
    ).pinoHttp as [pino.LoggerOptions, pino.DestinationStream];
    const { redact, hooks, level } = options;
    const logger = pino({ redact, hooks, level }, pretty);
    logger.info({ request_id: 'req-1', key: KEY }, 'Agent backend listening');
    logger.warn('second line');
    await new Promise((resolve) => setImmediate(resolve));
    const lines = output().trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: Agent backend listening/);
    expect(lines[0]).toContain('"request_id":"req-1"');
    expect(lines[0]).not.toContain(KEY);
    expect(lines[0]).not.toContain('"level"');
    expect(lines[1]).toContain('WARN: second line');
  });

  it('has no pretty stream without pino-pretty, and keeps JSON lines in production', () => {
    expect(prettyDestination(undefined, () => undefined)).toBeUndefined();
    const { destination } = sink();
    const options = loggerOptions(loadConfig({ NODE_ENV: 'production' }), destination as never).pinoHttp;
    expect(options).toEqual([expect.objectContaining({ level: 'info' }), destination]);
  });
});
