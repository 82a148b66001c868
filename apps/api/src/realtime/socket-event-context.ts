// Every Socket.IO event handled in a context of its own: a request id, the socket's tenant and id and the event
// on each log line, and a span (under which the turn's `agent.turn` nests) while tracing is on.
import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import { Observable } from 'rxjs';
import type { Socket } from 'socket.io';
import { LogContext, recordSpanError, tracer } from '@lib/core';

@Injectable()
export class SocketEventContext implements NestInterceptor {
  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (execution.getType() !== 'ws') return next.handle();
    const ws = execution.switchToWs();
    const socket = ws.getClient<Socket>();
    const event = ws.getPattern();
    const tenantId = (socket.data as { tenantId?: string } | undefined)?.tenantId;
    return new Observable((subscriber) => {
      const span = tracer().startSpan(`socket.io ${event}`, {
        kind: SpanKind.SERVER,
        attributes: {
          'messaging.system': 'socket.io',
          'socket.io.event': event,
          'socket.io.id': socket.id,
          ...(tenantId ? { 'tenant.id': tenantId } : {}),
        },
      });
      const fields = { request_id: randomUUID(), tenant_id: tenantId, socket_id: socket.id, event };
      // Nest binds the handler to the async context in which handle() is called: this one.
      const subscription = LogContext.run(fields, () =>
        context.with(trace.setSpan(context.active(), span), () =>
          next.handle().subscribe({
            next: (value) => subscriber.next(value),
            error: (error: unknown) => {
              recordSpanError(span, error);
              span.end();
              subscriber.error(error);
            },
            complete: () => {
              span.end();
              subscriber.complete();
            },
          }),
        ),
      );
      return () => subscription.unsubscribe();
    });
  }
}
