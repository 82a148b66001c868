// Domain exceptions carry a contract error type; the API's one global filter maps each type to its HTTP status.
export type ErrorType =
  | 'validation_error'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conversation_busy'
  | 'conflict'
  | 'payload_too_large'
  | 'rate_limited'
  | 'budget_exceeded'
  | 'upstream_error'
  | 'service_unavailable'
  | 'internal_error';

export interface ErrorDetail {
  field: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly type: ErrorType,
    message: string,
    readonly details?: ErrorDetail[],
    /** Seconds a client should wait before retrying (sent as Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends DomainError {
  constructor(message: string, details?: ErrorDetail[]) {
    super('validation_error', message, details);
  }
}

/** No usable credentials: a missing, malformed, unknown or revoked API key. */
export class UnauthorizedError extends DomainError {
  constructor(message = 'A valid API key is required: send it as Authorization: Bearer <key>.') {
    super('unauthorized', message);
  }
}

/** Valid credentials without the role the action needs. */
export class ForbiddenError extends DomainError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string) {
    super('not_found', `${what} was not found.`);
  }
}

/** The resource to create already exists (an agent with that name and owner). */
export class ConflictError extends DomainError {
  constructor(message: string) {
    super('conflict', message);
  }
}

export class ConversationBusyError extends DomainError {
  constructor(
    readonly conversationId: string,
    readonly runningSince: Date,
  ) {
    super(
      'conversation_busy',
      `Conversation ${conversationId} already has a turn running since ${runningSince.toISOString()}; join it to follow that turn or retry when it ends.`,
    );
  }
}

export class UpstreamError extends DomainError {
  constructor(message: string, retryAfterSeconds?: number) {
    super('upstream_error', message, undefined, retryAfterSeconds);
  }
}

export class RateLimitedError extends DomainError {
  constructor(message: string, retryAfterSeconds: number) {
    super('rate_limited', message, undefined, retryAfterSeconds);
  }
}

export class ServiceUnavailableError extends DomainError {
  constructor(message: string, retryAfterSeconds?: number) {
    super('service_unavailable', message, undefined, retryAfterSeconds);
  }
}

/** A tenant's daily budget or a conversation's cost ceiling has no room left for another model call. */
export class BudgetExceededError extends DomainError {
  constructor(message: string, retryAfterSeconds?: number) {
    super('budget_exceeded', message, undefined, retryAfterSeconds);
  }
}
