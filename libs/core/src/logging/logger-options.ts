// pino settings shared by every process: JSON lines (readable ones in development, LOG_FORMAT); request, tenant,
// conversation, task and trace ids on every line; secrets redacted.
import { RequestMethod } from '@nestjs/common';
import type { Params } from 'nestjs-pino';
import type { Options as PinoHttpOptions } from 'pino-http';
import type { IncomingMessage } from 'node:http';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import pino from 'pino';
import { AppConfig } from '../config/app-config';
import { LogContext } from './log-context';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  '*.headers.authorization',
  '*.authorization',
  'handshake.auth',
  '*.handshake.auth',
  '*.handshake.headers.authorization',
  'apiKey',
  'api_key',
  'key',
  'token',
  '*.apiKey',
  '*.api_key',
  '*.adminApiKey',
  '*.anthropicApiKey',
  '*.secretsKey',
  '*.password',
  '*.token',
  '*.key',
];

// API keys (ours and Anthropic's) and bearer credentials inside free text, e.g. an error message that quotes a header.
const SECRET_IN_TEXT =
  /\b(Bearer\s+)[A-Za-z0-9._~+/-]+=*|\b(ak_[a-z]+_|sk-ant-[a-z0-9]+-)[A-Za-z0-9_-]{4,}/gi;

/** Masks credentials in a log message: path redaction cannot see inside strings. */
export function scrubSecrets(text: string): string {
  return text.replace(SECRET_IN_TEXT, (_match, bearer?: string, prefix?: string) =>
    bearer ? `${bearer}[redacted]` : `${prefix}[redacted]`,
  );
}

/**
 * pino's mixin: the fields of the current request, socket event or job (LogContext) and the active trace and
 * span ids, on every line. A request's logger already has request_id bound: it is not written twice.
 */
export function logContextMixin(_mergeObject: object, _level: number, logger: pino.Logger): object {
  const fields = LogContext.store();
  const span = trace.getActiveSpan()?.spanContext();
  const mixin: Record<string, string> = fields ? { ...fields } : {};
  if (span && isSpanContextValid(span)) {
    mixin.trace_id = span.traceId;
    mixin.span_id = span.spanId;
  }
  // A request's logger has request_id (and, on its last line, the context) bound already: no key twice.
  const bindings = (logger as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym];
  if (typeof bindings === 'string' && bindings.length) {
    for (const key of Object.keys(mixin)) if (bindings.includes(`"${key}":`)) delete mixin[key];
  }
  return mixin;
}

/** The request's context on pino-http's "request completed" line, written after the request's async context. */
function requestContext(request: IncomingMessage): Record<string, string> {
  const { request_id: _bound, ...fields } = LogContext.of(request) ?? {};
  return fields as Record<string, string>;
}

type PrettyFactory = (options: Record<string, unknown>) => pino.DestinationStream;

/** pino-pretty is a development dependency: an install without it (a production image) has none to load. */
function loadPinoPretty(): PrettyFactory | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('pino-pretty') as PrettyFactory;
  } catch {
    return undefined;
  }
}

/**
 * A stream that writes each (already redacted) line as one readable line: time, level, message, then the
 * context fields. Undefined when pino-pretty is not installed: the caller keeps JSON lines.
 */
export function prettyDestination(
  output?: NodeJS.WritableStream,
  load: () => PrettyFactory | undefined = loadPinoPretty,
): pino.DestinationStream | undefined {
  const pretty = load();
  return pretty?.({
    destination: output ?? 1,
    // Synchronous writes: the lines before a crash or an exit are not lost.
    sync: true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
  });
}

/**
 * `destination`: where the lines go (standard output when omitted; tests pass a stream to read them); with
 * LOG_FORMAT=pretty they are made readable first, when pino-pretty is installed.
 */
export function loggerOptions(config: AppConfig, destination?: pino.DestinationStream): Params {
  const options: PinoHttpOptions = {
    level: config.logLevel,
    // Fastify assigned the id (kept from a valid X-Request-ID, else a new UUID) before middleware runs.
    genReqId: (req: IncomingMessage) => (req as IncomingMessage & { id?: string }).id ?? '',
    customAttributeKeys: { reqId: 'request_id' },
    // Binds request_id into the request's child logger, so every line logged while serving it carries it.
    quietReqLogger: true,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    mixin: logContextMixin,
    customProps: requestContext,
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((arg: unknown) => (typeof arg === 'string' ? scrubSecrets(arg) : arg));
        method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
    autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/health') },
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        url: scrubSecrets(req.url),
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  };
  const target =
    config.logFormat === 'pretty'
      ? (prettyDestination(destination as NodeJS.WritableStream | undefined) ?? destination)
      : destination;
  return {
    // Nest's Fastify adapter does not match nestjs-pino's default `{/*splat}` route; this matches every path.
    forRoutes: [{ path: '{*path}', method: RequestMethod.ALL }],
    pinoHttp: target ? [options, target] : options,
  };
}
