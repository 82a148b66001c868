// Fastify hooks that give every HTTP request its observability: the log context (request id, then tenant and
// conversation as they become known), the route template on the request's trace span, and the duration metric.
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Context, context, trace } from '@opentelemetry/api';
import type { FastifyRequest } from 'fastify';
import { httpRequestDuration, LogContext, Metrics } from '@lib/core';

const ENTRY_CONTEXT = Symbol('entry trace context');

type TracedRequest = FastifyRequest & { [ENTRY_CONTEXT]?: Context };

export function observeRequests(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const duration = httpRequestDuration(app.get(Metrics));

  // The request's trace context is active while Fastify receives it, but reading the body can lose it (stream
  // events run in the connection's context): keep it now, and enter it again before the handler.
  fastify.addHook('onRequest', (request, _reply, done) => {
    (request as TracedRequest)[ENTRY_CONTEXT] = context.active();
    done();
  });

  fastify.addHook('preHandler', (request, _reply, done) => {
    const entry = (request as TracedRequest)[ENTRY_CONTEXT] ?? context.active();
    const route = request.routeOptions.url;
    const span = trace.getSpan(entry);
    if (span && route) {
      span.setAttribute('http.route', route);
      span.updateName(`${request.method} ${route}`);
    }
    context.with(entry, () =>
      LogContext.run(
        {
          request_id: String(request.id),
          ...(span ? { trace_id: span.spanContext().traceId } : {}),
        },
        () => {
          LogContext.attach(request.raw);
          done();
        },
      ),
    );
  });

  // The route template, never the raw URL: ids in paths would make one series per conversation.
  fastify.addHook('onResponse', (request, reply, done) => {
    duration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
    done();
  });
}
