// GET /v1/usage: the query (a date range, a grouping, an admin's tenant) and the report, as the contract pins them.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, Matches } from 'class-validator';
import { USAGE_GROUPS, UsageGroup } from '@lib/usage';

export class UsageQueryDto {
  @ApiPropertyOptional({
    description: 'Start, inclusive: a date (from 00:00 UTC) or a date-time.',
    example: '2026-11-01',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'from must be an ISO 8601 date or date-time' })
  from?: string;

  @ApiPropertyOptional({
    description: 'End: a date includes that whole day (UTC); a date-time is exclusive.',
    example: '2026-11-30',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'to must be an ISO 8601 date or date-time' })
  to?: string;

  @ApiProperty({ enum: USAGE_GROUPS, description: 'What each row sums over.', example: 'day' })
  @IsIn(USAGE_GROUPS, { message: `group_by must be one of: ${USAGE_GROUPS.join(', ')}` })
  group_by: UsageGroup;

  @ApiPropertyOptional({
    description: "Admin keys only: report this tenant's usage instead of the key's own tenant.",
    example: 'acme',
  })
  @IsOptional()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, { message: 'tenant must be a tenant name' })
  tenant?: string;
}

export class UsageRowDto {
  @ApiProperty({
    nullable: true,
    type: String,
    description:
      'The agent name, conversation id, UTC day (YYYY-MM-DD) or API key id; null for calls without one ' +
      '(a deleted conversation, a task whose key is unknown).',
    example: '2026-11-24',
  })
  key: string | null;
  @ApiProperty({ example: 42, description: 'Model calls.' }) requests: number;
  @ApiProperty({ example: 51234, description: 'Cache writes and reads included.' }) input_tokens: number;
  @ApiProperty({ example: 3120 }) output_tokens: number;
  @ApiProperty({ example: 40960, description: 'The part of input_tokens read from the prompt cache.' })
  cache_read_input_tokens: number;
  @ApiProperty({ example: 2048, description: 'The part of input_tokens written to the prompt cache.' })
  cache_creation_input_tokens: number;
  @ApiProperty({ example: 0.201378 }) cost_usd: number;
}

export class UsageReportDto {
  @ApiProperty({ type: [UsageRowDto] }) rows: UsageRowDto[];
  @ApiProperty({
    example: 0.201378,
    description: 'The sum of every row: the cost of the calls in the range.',
  })
  total_cost_usd: number;
}
