import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import pino from 'pino';
import { Writable } from 'node:stream';
import { loadConfig } from '../config/load-config';
import { LogContext } from './log-context';
import { loggerOptions } from './logger-options';

function capture(): {
  logger: pino.Logger;
  lines: () => Array<Record<string, unknown>>;
  raw: () => string[];
} {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const { mixin, level } = loggerOptions(loadConfig({ LOG_LEVEL: 'info', LOG_FORMAT: 'json' }))
    .pinoHttp as pino.LoggerOptions;
  return {
    logger: pino({ mixin, level }, destination),
    lines: () => chunks.map((line) => JSON.parse(line)),
    raw: () => chunks,
  };
}

describe('LogContext and the log mixin', () => {
  it('adds nothing outside a context', () => {
    const { logger, lines } = capture();
    logger.info('plain');
    expect(lines()[0]).not.toHaveProperty('request_id');
    expect(LogContext.current()).toBeUndefined();
  });

  it('writes the context on every line, including what becomes known later and across awaits', async () => {
    const { logger, lines } = capture();
    await LogContext.run({ request_id: 'req-1', tenant_id: 'acme' }, async () => {
      logger.info('first');
      await new Promise((resolve) => setTimeout(resolve, 1));
      LogContext.assign({ conversation_id: 'conv-9', task_id: undefined });
      logger.info('second');
    });
    logger.info('after');
    expect(lines()[0]).toMatchObject({ request_id: 'req-1', tenant_id: 'acme' });
    expect(lines()[0]).not.toHaveProperty('conversation_id');
    expect(lines()[1]).toMatchObject({ request_id: 'req-1', tenant_id: 'acme', conversation_id: 'conv-9' });
    expect(lines()[1]).not.toHaveProperty('task_id');
    expect(lines()[2]).not.toHaveProperty('request_id');
  });

  it('keeps concurrent contexts apart, and a nested one inherits without changing its parent', async () => {
    const seen: Array<string | undefined> = [];
    await Promise.all(
      ['a', 'b'].map((id) =>
        LogContext.run({ request_id: id }, async () => {
          await new Promise((resolve) => setTimeout(resolve, id === 'a' ? 5 : 1));
          seen.push(LogContext.current()?.request_id);
        }),
      ),
    );
    expect(seen.sort()).toEqual(['a', 'b']);
    LogContext.run({ request_id: 'outer', tenant_id: 't' }, () => {
      LogContext.run({ task_id: 'inner' }, () => {
        expect(LogContext.current()).toEqual({ request_id: 'outer', tenant_id: 't', task_id: 'inner' });
      });
      expect(LogContext.current()).toEqual({ request_id: 'outer', tenant_id: 't' });
    });
  });

  it('does not write a key twice when the logger has it bound already (a request logger)', () => {
    const { logger, raw } = capture();
    LogContext.run({ request_id: 'req-2', tenant_id: 'acme' }, () => {
      logger.child({ request_id: 'req-2' }).info('bound');
    });
    expect(raw()[0].match(/"request_id"/g)).toHaveLength(1);
    expect(JSON.parse(raw()[0])).toMatchObject({ request_id: 'req-2', tenant_id: 'acme' });
  });

  it('adds the active trace and span ids', () => {
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    trace.setGlobalTracerProvider(new BasicTracerProvider());
    try {
      const { logger, lines } = capture();
      const span = trace.getTracer('test').startSpan('work');
      context.with(trace.setSpan(context.active(), span), () => logger.info('traced'));
      span.end();
      expect(lines()[0]).toMatchObject({
        trace_id: span.spanContext().traceId,
        span_id: span.spanContext().spanId,
      });
    } finally {
      trace.disable();
      context.disable();
    }
  });

  it('keeps a request context on the request object for lines written after it', () => {
    const request = {};
    LogContext.run({ request_id: 'req-3', tenant_id: 'acme' }, () => {
      LogContext.attach(request);
      LogContext.assign({ conversation_id: 'conv-3' });
    });
    expect(LogContext.of(request)).toEqual({
      request_id: 'req-3',
      tenant_id: 'acme',
      conversation_id: 'conv-3',
    });
  });
});
