import { ConversationBusyError, UpstreamError, ValidationError } from '@lib/core';
import { LlmError } from '@lib/llm';
import { describeFailure, isTransient } from './task-failures';

/** What ChatService throws: the mapped domain error, with the provider's error as its cause. */
function mapped(cause: LlmError): UpstreamError {
  const error = new UpstreamError('The model provider failed to answer; retry in a moment.');
  error.cause = cause;
  return error;
}

describe('task failures', () => {
  it.each([
    ['a 429', new LlmError('rate_limited', 'rate limited', 429)],
    ['a 529', new LlmError('overloaded', 'overloaded', 529)],
    ['a 5xx', new LlmError('server_error', 'failed', 500)],
    ['a timeout or a cut stream', new LlmError('connection', 'did not answer in time')],
  ])('retries %s', (_what, cause) => {
    expect(isTransient(mapped(cause))).toBe(true);
  });

  it.each([
    ['a 400', new LlmError('invalid_request', 'rejected', 400)],
    ['a 401', new LlmError('authentication', 'bad key', 401)],
    ['a spend limit', new LlmError('billing', 'spend limit', 429)],
  ])('does not retry %s', (_what, cause) => {
    expect(isTransient(mapped(cause))).toBe(false);
  });

  it('retries a busy conversation and an unreachable backing service, not a bad request or a bug', () => {
    expect(isTransient(new ConversationBusyError('c', new Date()))).toBe(true);
    expect(isTransient(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransient(new ValidationError('Unknown agent "x".'))).toBe(false);
    expect(isTransient(new TypeError('undefined is not a function'))).toBe(false);
  });

  it('keeps the provider’s own sentence, and never an internal error’s', () => {
    expect(
      describeFailure(
        mapped(new LlmError('invalid_request', 'The model provider rejected the request (400).')),
      ),
    ).toBe('The model provider rejected the request (400).');
    expect(describeFailure(new TypeError('secret internals'))).toBe(
      'The task failed because of an internal error.',
    );
  });
});
