// The contract's error envelope and the HTTP status of each error type.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ErrorType } from '@lib/core';

export const STATUS_OF: Readonly<Record<ErrorType, number>> = {
  validation_error: 400,
  unauthorized: 401,
  budget_exceeded: 402,
  forbidden: 403,
  not_found: 404,
  conversation_busy: 409,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  internal_error: 500,
  upstream_error: 502,
  service_unavailable: 503,
};

export class ErrorDetailDto {
  @ApiProperty({ example: 'message' }) field: string;
  @ApiProperty({ example: 'message must be longer than or equal to 1 characters' }) message: string;
}

export class ErrorBodyDto {
  @ApiProperty({ enum: Object.keys(STATUS_OF), example: 'validation_error' }) type: ErrorType;
  @ApiProperty({ example: 'The request is invalid.' }) message: string;
  @ApiPropertyOptional({ type: [ErrorDetailDto] }) details?: ErrorDetailDto[];
  @ApiProperty({ example: '5b0f1c9e-3f7e-4a53-9d0a-3c1f6f0f2d55' }) request_id: string;
}

export class ErrorEnvelopeDto {
  @ApiProperty({ type: ErrorBodyDto }) error: ErrorBodyDto;
}
