// The global ValidationPipe: unknown fields refused, types transformed, one detail per field at fault.
// (Bodies were inspected for depth and unstorable text before it runs: see json-body.ts.)
import { ArgumentMetadata, ValidationError as FieldError, ValidationPipe } from '@nestjs/common';
import { ErrorDetail, ValidationError } from '@lib/core';

/**
 * A number read from a query string must be exact: `?page=100000000000000000000` converts to 1e20, which is
 * an integer to JavaScript but overflows PostgreSQL's bigint OFFSET. Whatever a DTO's own rules say, a query
 * number beyond ±2^53 is refused for every route.
 */
function inexactQueryNumbers(value: unknown): ErrorDetail[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value)
    .filter(([, field]) => typeof field === 'number' && !Number.isSafeInteger(Math.trunc(field)))
    .map(([field]) => ({ field, message: `${field} is out of range` }));
}

class EdgeValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const transformed: unknown = await super.transform(value, metadata);
    if (metadata.type === 'query') {
      const details = inexactQueryNumbers(transformed);
      if (details.length) throw new ValidationError('The request is invalid.', details);
    }
    return transformed;
  }
}

export function flattenFieldErrors(errors: FieldError[], parent = ''): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    if (error.constraints) {
      // One entry per field: the first rule it broke is the one worth fixing first.
      const [message] = Object.values(error.constraints);
      details.push({ field, message });
    }
    if (error.children?.length) details.push(...flattenFieldErrors(error.children, field));
  }
  return details;
}

export function createValidationPipe(): ValidationPipe {
  return new EdgeValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => {
      const details = flattenFieldErrors(errors);
      if (!details.length) return new ValidationError('The request body must be a JSON object.');
      return new ValidationError('The request is invalid.', details);
    },
  });
}
