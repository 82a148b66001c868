import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { RUN_STATES } from '@lib/core';
import type { RunSource, RunState, StopReason } from '@lib/core';
import { STOP_REASONS } from '../chat/chat.dto';
import { PendingApprovalDto } from '../approvals/approval.dto';

export class RunStatusDto {
  @ApiProperty({ format: 'uuid' }) run_id: string;
  @ApiProperty({ format: 'uuid' }) conversation_id: string;
  @ApiProperty({ example: 'support' }) agent_name: string;
  @ApiProperty({ enum: ['rest', 'sse', 'socket', 'task', 'mcp'], example: 'rest' }) source: RunSource;
  @ApiProperty({ enum: RUN_STATES, example: 'completed' }) status: RunState;
  @ApiProperty({ enum: STOP_REASONS, nullable: true, type: String, example: 'end_turn' })
  stop_reason: StopReason | null;
  @ApiProperty({
    nullable: true,
    type: 'object',
    additionalProperties: true,
    description: 'The error envelope body of a failed run (`{error: {type, message}}`), else null.',
  })
  error: { error: { type: string; message: string } } | null;
  @ApiProperty({ example: 640 }) input_tokens: number;
  @ApiProperty({ example: 172 }) output_tokens: number;
  @ApiProperty({ example: 0.0045 }) cost_usd: number;
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) started_at: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) finished_at: string | null;
  @ApiProperty({
    type: [PendingApprovalDto],
    description: 'The tool calls waiting for a decision (status `requires_action`); `[]` when none.',
  })
  pending_approvals: PendingApprovalDto[];
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) task_id: string | null;
}

export class RunListDto {
  @ApiProperty({ type: [RunStatusDto] }) runs: RunStatusDto[];
  @ApiProperty() total: number;
  @ApiProperty() page: number;
  @ApiProperty() page_size: number;
}

export class EventsQueryDto {
  @ApiPropertyOptional({
    minimum: 0,
    description:
      'Replay the retained events after this sequence number (the `Last-Event-ID` header does the same).',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'after_seq must be a non-negative whole number' })
  @Min(0, { message: 'after_seq must be a non-negative whole number' })
  @Max(Number.MAX_SAFE_INTEGER, { message: 'after_seq is too large' })
  after_seq?: number;

  @ApiPropertyOptional({
    enum: ['true', 'false'],
    default: 'false',
    description: "`true`: the stream also carries `thinking` events (the model's reasoning deltas).",
  })
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'include_thinking must be true or false' })
  include_thinking?: 'true' | 'false';
}
