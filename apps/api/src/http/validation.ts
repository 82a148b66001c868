// The global ValidationPipe: unknown fields refused, types transformed, one detail per field at fault.
import { ValidationError as FieldError, ValidationPipe } from '@nestjs/common';
import { ErrorDetail, ValidationError } from '@lib/core';

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
  return new ValidationPipe({
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
