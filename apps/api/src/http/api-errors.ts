// Swagger declarations of the error answers a route can give, all in the one envelope.
import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension, ApiResponse } from '@nestjs/swagger';
import { ErrorEnvelopeDto } from './error-envelope';

const DESCRIPTIONS: Record<number, string> = {
  400: '`validation_error`: bad fields (one detail per field), malformed JSON, bad query values or path ids.',
  401: '`unauthorized`: no API key, or a malformed, unknown or revoked one.',
  402: "`budget_exceeded`: the tenant's daily budget or the conversation's cost ceiling has no room left.",
  403: '`forbidden`: the API key lacks the role the route needs (admin).',
  404: '`not_found`: no such resource for this tenant.',
  409: '`conversation_busy`: a turn is already running on the conversation; `conflict`: the resource already exists.',
  413: '`payload_too_large`: the body is over the limit.',
  429: '`rate_limited`: retry after the `Retry-After` seconds.',
  500: '`internal_error`.',
  502: '`upstream_error`: the model provider failed.',
  503: '`service_unavailable`: the database or Redis is down.',
};

export function ApiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...[...new Set([...statuses, 500])].map((status) =>
      ApiResponse({ status, description: DESCRIPTIONS[status], type: ErrorEnvelopeDto }),
    ),
  );
}

/** A route behind the API-key guard: the bearer scheme, and the 401 and 429 every such route can answer. */
export function ApiKeyAuth(): MethodDecorator & ClassDecorator {
  return applyDecorators(ApiBearerAuth(), ApiErrors(401, 429));
}

/** An admin-only route: also 403 for a user key; `x-required-role: admin` tells clients (and tests) so. */
export function ApiAdminAuth(): MethodDecorator & ClassDecorator {
  return applyDecorators(ApiBearerAuth(), ApiErrors(401, 403, 429), ApiExtension('x-required-role', 'admin'));
}
