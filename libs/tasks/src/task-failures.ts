// Which failures of a run are worth retrying (the provider's 429, 529, 5xx and timeouts, a busy conversation,
// a backing service away) and the sentence a failed task keeps as its `error`.
import { ConversationBusyError, DomainError } from '@lib/core';
import { LlmError } from '@lib/llm';

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

/** The provider failure behind a chat error: ChatService keeps it as the mapped error's `cause`. */
function llmErrorOf(error: unknown): LlmError | undefined {
  if (error instanceof LlmError) return error;
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  return cause instanceof LlmError ? cause : undefined;
}

export function isTransient(error: unknown): boolean {
  const llm = llmErrorOf(error);
  if (llm) return llm.retryable;
  if (error instanceof ConversationBusyError) return true;
  if (error instanceof DomainError) return error.type === 'service_unavailable';
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

/** A clear sentence: the provider's own classification when there is one, never a stack or SQL. */
export function describeFailure(error: unknown): string {
  const llm = llmErrorOf(error);
  if (llm) return llm.message;
  if (error instanceof DomainError) return error.message;
  if (isTransient(error)) return 'A backing service (database or Redis) was unavailable.';
  return 'The task failed because of an internal error.';
}

/** Thrown by a run the queue must not retry; the task has already been marked `failed`. */
export class PermanentTaskFailure extends Error {
  override name = 'PermanentTaskFailure';
}

/** Thrown by a run the queue should retry after its backoff; the task is `queued` again. */
export class TransientTaskFailure extends Error {
  override name = 'TransientTaskFailure';
}
