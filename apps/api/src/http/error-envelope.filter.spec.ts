import { HttpException, HttpStatus } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { QueryFailedError } from 'typeorm';
import { ForbiddenError, UnauthorizedError } from '@lib/core';
import { describeError } from './error-envelope.filter';

describe('describeError: nothing internal reaches the client', () => {
  it('answers a database error with a generic internal_error, without its SQL or driver message', () => {
    const error = new QueryFailedError(
      'SELECT * FROM conversations WHERE id = $1',
      ['x'],
      new Error('invalid input syntax for type uuid: "x"'),
    );
    const envelope = describeError(error);
    expect(envelope).toEqual({ status: 500, type: 'internal_error', message: 'An internal error occurred.' });
  });

  it('answers an unexpected exception with a generic internal_error', () => {
    const envelope = describeError(new TypeError("Cannot read properties of undefined (reading 'id')"));
    expect(envelope.message).toBe('An internal error occurred.');
  });

  it('maps the auth errors to 401 unauthorized and 403 forbidden', () => {
    expect(describeError(new UnauthorizedError())).toMatchObject({ status: 401, type: 'unauthorized' });
    expect(describeError(new ForbiddenError('Admins only.'))).toMatchObject({
      status: 403,
      type: 'forbidden',
    });
  });

  it("maps the throttler's own exception to 429 rate_limited without its internal message", () => {
    const envelope = describeError(new ThrottlerException());
    expect(envelope).toMatchObject({ status: 429, type: 'rate_limited' });
    expect(envelope.message).not.toContain('ThrottlerException');
    expect(describeError(new HttpException('x', HttpStatus.TOO_MANY_REQUESTS)).type).toBe('rate_limited');
  });
});
