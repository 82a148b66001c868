// Starts OpenTelemetry tracing when the standard OTEL_* variables ask for it. Each process's tracing.ts calls this
// before anything else is loaded, so that the HTTP, PostgreSQL and Redis instrumentations can patch those modules.
// This file imports nothing heavy: with tracing off (no OTLP endpoint, no OTEL_TRACES_EXPORTER) the SDK is never
// loaded and the spans of our own code are @opentelemetry/api no-ops.
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { processEnv } from '../config/process-env';

export interface Tracing {
  readonly enabled: boolean;
  /** Exports the spans still buffered; called last in a graceful shutdown. */
  shutdown(): Promise<void>;
}

type Env = Record<string, string | undefined>;

/** On when an OTLP endpoint or a traces exporter is named, unless OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none. */
export function tracingRequested(env: Env): boolean {
  if (/^true$/i.test(env.OTEL_SDK_DISABLED?.trim() ?? '')) return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (exporters.includes('none')) return false;
  return (
    exporters.length > 0 ||
    Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim())
  );
}

/** Health probes and metric scrapes would drown the traces that matter. */
function isProbe(request: IncomingMessage): boolean {
  const url = request.url ?? '';
  return url.startsWith('/health/') || url === '/metrics' || url.startsWith('/metrics?');
}

export function startTracing(serviceName: string): Tracing {
  // The same .env main.ts reads, read first here: OTEL_* variables may live in it.
  if (existsSync('.env')) process.loadEnvFile('.env');
  const env = processEnv();
  if (!tracingRequested(env)) return { enabled: false, shutdown: async () => undefined };
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on, synchronously, first */
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { HttpInstrumentation } =
    require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { PgInstrumentation } =
    require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const { IORedisInstrumentation } =
    require('@opentelemetry/instrumentation-ioredis') as typeof import('@opentelemetry/instrumentation-ioredis');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME, when set, names the service; the option would override it.
    ...(env.OTEL_SERVICE_NAME?.trim() ? {} : { serviceName }),
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: isProbe }),
      // Only inside a trace: pool housekeeping, lock renewals and Bull's polling would each start a trace.
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
    // Traces only: metrics are Prometheus' (/metrics), logs are JSON lines carrying the trace id.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return { enabled: true, shutdown: () => sdk.shutdown() };
}
