// Our own spans and the trace context that travels with work: into queue jobs and outgoing webhooks as W3C
// `traceparent`/`tracestate`. Everything here goes through @opentelemetry/api, a no-op while tracing is off.
import {
  Context,
  context,
  propagation,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  Span,
  SpanOptions,
  SpanStatusCode,
  trace,
  Tracer,
} from '@opentelemetry/api';

/** W3C trace context headers, as stored in a job's data or sent with a request. */
export type TraceCarrier = Record<string, string>;

export function tracer(): Tracer {
  return trace.getTracer('agent-backend');
}

/** True once an OpenTelemetry SDK is registered (tracing on): until then every tracer is a no-op. */
export function tracingActive(): boolean {
  const provider = trace.getTracerProvider();
  return (
    !(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer('agent-backend') !== undefined
  );
}

/** The trace context of `ctx` (the active one by default) as headers; empty while tracing is off. */
export function traceCarrier(ctx: Context = context.active()): TraceCarrier {
  const carrier: TraceCarrier = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** The context a carrier describes (a job's), or the active one when there is none. */
export function contextFrom(carrier: TraceCarrier | null | undefined): Context {
  return carrier && Object.keys(carrier).length
    ? propagation.extract(ROOT_CONTEXT, carrier)
    : context.active();
}

/** Marks a span failed with the error's message, keeping the exception as an event. */
export function recordSpanError(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/** Runs `fn` in a new active span under `parent` (the active context by default), ending it when `fn` settles. */
export function inSpan<T>(
  name: string,
  options: SpanOptions,
  fn: (span: Span) => Promise<T>,
  parent: Context = context.active(),
): Promise<T> {
  return tracer().startActiveSpan(name, options, parent, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      recordSpanError(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}
