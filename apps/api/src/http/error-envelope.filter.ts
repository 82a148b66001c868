// The one exception filter: every error, from a domain rule to a malformed body or an unknown route, leaves as the envelope.
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ErrorDetail, ErrorType } from '@lib/core';
import { STATUS_OF } from './error-envelope';

interface Envelope {
  status: number;
  type: ErrorType;
  message: string;
  details?: ErrorDetail[];
  retryAfterSeconds?: number;
}

const TYPE_OF_STATUS: Record<number, ErrorType> = {
  400: 'validation_error',
  401: 'unauthorized',
  402: 'budget_exceeded',
  403: 'forbidden',
  404: 'not_found',
  409: 'conversation_busy',
  413: 'payload_too_large',
  429: 'rate_limited',
  502: 'upstream_error',
  503: 'service_unavailable',
};

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '57P03',
]);

export function describeError(error: unknown, request?: FastifyRequest): Envelope {
  if (error instanceof DomainError) {
    return {
      status: STATUS_OF[error.type],
      type: error.type,
      message: error.message,
      details: error.details,
      retryAfterSeconds: error.retryAfterSeconds,
    };
  }
  if (error instanceof HttpException && isClientFastifyError(error.cause)) {
    return describeFastifyError(error.cause);
  }
  if (isClientFastifyError(error)) return describeFastifyError(error);
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const type = TYPE_OF_STATUS[status] ?? (status >= 500 ? 'internal_error' : 'validation_error');
    if (status === 404 && request) {
      return { status, type, message: `No route ${request.method} ${request.url.split('?')[0]}.` };
    }
    if (status === 429) {
      // A throttler's own exception: its message is internal, its Retry-After is already on the reply.
      return { status, type, message: 'Too many requests; retry after the seconds in Retry-After.' };
    }
    if (status === 503) {
      return {
        status,
        type,
        message: 'The service is not ready.',
        details: healthDetails(error.getResponse()),
      };
    }
    return { status, type, message: sentence(error.message) };
  }
  const code = (error as { code?: string })?.code;
  if (code && UNAVAILABLE_CODES.has(code)) {
    return {
      status: 503,
      type: 'service_unavailable',
      message: 'A backing service (database or Redis) is unavailable; retry shortly.',
      retryAfterSeconds: 5,
    };
  }
  return { status: 500, type: 'internal_error', message: 'An internal error occurred.' };
}

interface FastifyClientError {
  statusCode: number;
  code?: string;
}

function isClientFastifyError(error: unknown): error is FastifyClientError {
  const statusCode = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500;
}

/** Errors Fastify raises before a route runs: body parsing, size and media type. */
function describeFastifyError(error: FastifyClientError): Envelope {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error.statusCode === 413) {
    return { status: 413, type: 'payload_too_large', message: 'The request body is larger than the limit.' };
  }
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || error.statusCode === 415) {
    return {
      status: 400,
      type: 'validation_error',
      message: 'The request body must be JSON (Content-Type: application/json).',
    };
  }
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return {
      status: 400,
      type: 'validation_error',
      message: 'The request body is empty; send a JSON object.',
    };
  }
  if (error instanceof SyntaxError || error.code?.startsWith('FST_ERR_CTP')) {
    return { status: 400, type: 'validation_error', message: 'The request body is not valid JSON.' };
  }
  const type = TYPE_OF_STATUS[error.statusCode] ?? 'validation_error';
  return { status: STATUS_OF[type], type, message: 'The request could not be processed.' };
}

function sentence(message: string): string {
  const text = message.trim() || 'The request failed.';
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function healthDetails(response: unknown): ErrorDetail[] | undefined {
  const error = (response as { error?: Record<string, { status?: string; message?: string }> })?.error;
  if (!error) return undefined;
  return Object.entries(error).map(([field, value]) => ({
    field,
    message: value.message ?? value.status ?? 'down',
  }));
}

export function sendError(reply: FastifyReply, request: FastifyRequest, envelope: Envelope): void {
  if (envelope.status === 401) reply.header('WWW-Authenticate', 'Bearer realm="agent-backend"');
  if (envelope.retryAfterSeconds !== undefined) {
    reply.header('Retry-After', String(Math.max(1, Math.ceil(envelope.retryAfterSeconds))));
  } else if (envelope.status === 429 && !reply.hasHeader('Retry-After')) {
    reply.header('Retry-After', '1');
  }
  void reply
    .status(envelope.status)
    .type('application/json; charset=utf-8')
    .send({
      error: {
        type: envelope.type,
        message: envelope.message,
        ...(envelope.details?.length ? { details: envelope.details } : {}),
        request_id: String(request.id),
      },
    });
}

@Catch()
export class ErrorEnvelopeFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const envelope = describeError(error, request);
    if (error instanceof DomainError && envelope.status >= 500) {
      // An expected operational failure (provider or backing service): no stack, but the underlying cause.
      const cause = error.cause instanceof Error ? error.cause.message : undefined;
      this.logger.warn(
        { cause },
        `${request.method} ${request.url} failed with ${envelope.type}: ${error.message}`,
      );
    } else if (envelope.status >= 500) {
      this.logger.error({ err: error }, `${request.method} ${request.url} failed with ${envelope.type}`);
    }
    if (reply.sent || reply.raw.headersSent) return;
    sendError(reply, request, envelope);
  }
}
