// The one place where a run's failure becomes the contract's error body, and back (for a caller that learns of
// it from the event log, possibly from another instance).
import { Logger } from '@nestjs/common';
import { DomainError, ErrorPayload, ErrorType } from '@lib/core';

const logger = new Logger('Runs');

/** The error body every transport shows for a failed run; internal failures are logged, never described. */
export function failureBody(error: unknown, conversationId: string): ErrorPayload {
  if (error instanceof DomainError) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    logger.warn(`Run on conversation ${conversationId} failed with ${error.type}: ${error.message}${cause}`);
    return {
      type: error.type,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
      ...(error.retryAfterSeconds !== undefined ? { retry_after: error.retryAfterSeconds } : {}),
    };
  }
  logger.error({ err: error }, `Run on conversation ${conversationId} failed`);
  return { type: 'internal_error', message: 'The run failed because of an internal error.' };
}

/** The domain error an error body stands for (REST answers it with its status). */
export function failureError(body: ErrorPayload): DomainError {
  return new DomainError(
    body.type as ErrorType,
    body.message,
    body.details as DomainError['details'],
    body.retry_after,
  );
}
