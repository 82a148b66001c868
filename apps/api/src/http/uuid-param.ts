import { ParseUUIDPipe } from '@nestjs/common';
import { ValidationError } from '@lib/core';

/** Path ids are UUIDs; anything else is the caller's mistake (400), never a database error. */
export function uuidParam(field = 'id'): ParseUUIDPipe {
  return new ParseUUIDPipe({
    exceptionFactory: () =>
      new ValidationError(`The ${field} in the path must be a UUID.`, [{ field, message: 'must be a UUID' }]),
  });
}
