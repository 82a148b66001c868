// The answers of the health probes, as documented in the OpenAPI document.
import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';

export class HealthLiveDto {
  @ApiProperty({ enum: ['ok'], example: 'ok' }) status: 'ok';
}

export class ProviderKeyStateDto {
  @ApiProperty({
    description: 'The key by position and a SHA-256 prefix, never the key.',
    example: '#1 (sha256 3f2a9c1b0d4e5f61)',
  })
  key: string;
  @ApiProperty({ enum: ['active', 'removed'], example: 'active' }) status: 'active' | 'removed';
  @ApiPropertyOptional({
    description: 'Why the provider refused it.',
    example: '401: The model provider rejected the API key.',
  })
  reason?: string;
  @ApiPropertyOptional({ format: 'date-time', example: '2026-11-24T10:00:00.000Z' }) removed_at?: string;
}

/** One check: `database` and `redis` carry only a status; `llm_keys` describes the provider key pool. */
export class HealthCheckDto {
  @ApiProperty({ enum: ['up', 'down'], example: 'up' }) status: 'up' | 'down';
  @ApiPropertyOptional({
    enum: ['offline-demo'],
    description: '`llm_keys` without a provider key: the offline demo model answers.',
  })
  mode?: 'offline-demo';
  @ApiPropertyOptional({ description: '`llm_keys`: keys configured.', example: 2 }) total?: number;
  @ApiPropertyOptional({ description: '`llm_keys`: keys the provider still accepts.', example: 1 })
  active?: number;
  @ApiPropertyOptional({ type: [ProviderKeyStateDto], description: '`llm_keys`: each key of the pool.' })
  keys?: ProviderKeyStateDto[];
}

const CHECKS = {
  type: 'object',
  additionalProperties: { $ref: getSchemaPath(HealthCheckDto) },
} as const;

export class HealthReadyDto {
  @ApiProperty({ enum: ['ok'], example: 'ok' }) status: 'ok';
  @ApiProperty({
    ...CHECKS,
    description: 'The checks that passed, by name: `database`, `redis`, `llm_keys`.',
    example: {
      database: { status: 'up' },
      redis: { status: 'up' },
      llm_keys: { status: 'up', mode: 'offline-demo' },
    },
  })
  info: Record<string, HealthCheckDto>;
  @ApiProperty({ ...CHECKS, description: 'The checks that failed (empty in a 200 answer).', example: {} })
  error: Record<string, HealthCheckDto>;
  @ApiProperty({ ...CHECKS, description: 'Every check, passed or failed.' })
  details: Record<string, HealthCheckDto>;
}
