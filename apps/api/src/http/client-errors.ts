// Requests Node's HTTP parser (or Fastify's router) refuses before any route runs: oversized headers, bare LF
// line endings, malformed URLs. They get the contract's envelope and an X-Request-ID like every other answer.
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorType } from '@lib/core';
import { describeError, sendError } from './error-envelope.filter';

interface ParserFailure {
  status: number;
  type: ErrorType;
  message: string;
}

/** What the parser's error code means for the client. */
export function describeParserError(code: string | undefined): ParserFailure {
  if (code === 'HPE_HEADER_OVERFLOW') {
    return {
      status: 431,
      type: 'payload_too_large',
      message: 'The request headers are larger than the limit.',
    };
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { status: 408, type: 'validation_error', message: 'The request was not received in time.' };
  }
  return { status: 400, type: 'validation_error', message: 'The request is not valid HTTP/1.1.' };
}

/** The raw HTTP answer to a request the parser refused: the envelope, a new request id, and the connection closed. */
export function parserErrorResponse(code: string | undefined, requestId = randomUUID()): string {
  const failure = describeParserError(code);
  const body = JSON.stringify({
    error: { type: failure.type, message: failure.message, request_id: requestId },
  });
  return [
    `HTTP/1.1 ${failure.status} ${STATUS_CODES[failure.status]}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    `X-Request-ID: ${requestId}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/** Fastify's `clientErrorHandler`: Node's `clientError` event for a connection whose request could not be parsed. */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody to answer (https://nodejs.org/api/http.html#event-clienterror).
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) socket.write(parserErrorResponse(error.code));
  socket.destroy(error);
}

/** Fastify's `frameworkErrors`: errors its router raises before a route (and so Nest's filter) is reached. */
export function answerFrameworkError(error: Error, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('X-Request-ID', String(request.id));
  sendError(reply, request, describeError(error, request));
}
