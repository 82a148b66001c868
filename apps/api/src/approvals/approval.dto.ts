import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  Length,
  Matches,
  ValidateNested,
} from 'class-validator';
import { PageQueryDto } from '../conversations/conversation.dto';

export class PendingApprovalDto {
  @ApiProperty({ example: 'toolu_01A09q90qw90lq917835lq9' }) tool_use_id: string;
  @ApiProperty({ example: 'create_support_ticket' }) tool_name: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { subject: 'Broken on arrival', order_number: '1002' },
  })
  arguments: Record<string, unknown>;
  @ApiProperty({
    example: '3f0a4c…',
    description:
      'SHA-256 (hex) of the arguments as RFC 8785 canonical JSON (members sorted by name at every depth, no ' +
      'whitespace). Send it back with a decision to bind the decision to exactly these arguments.',
  })
  arguments_sha256: string;
  @ApiProperty({ format: 'date-time', description: 'Past this time the call counts as denied.' })
  expires_at: string;
}

export class ApprovalDto extends PendingApprovalDto {
  @ApiProperty({ format: 'uuid' }) run_id: string;
  @ApiProperty({ format: 'uuid' }) conversation_id: string;
  @ApiProperty({ enum: ['pending', 'approved', 'denied', 'expired'] }) status: string;
  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'The API key that decided (null: pending, expired, or the bootstrap admin key).',
  })
  decided_by: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) decided_at: string | null;
  @ApiProperty({ nullable: true, type: String, example: 'Customer confirmed by phone.' }) reason:
    string | null;
  @ApiProperty({ format: 'date-time' }) created_at: string;
}

export class ApprovalListDto {
  @ApiProperty({ type: [ApprovalDto] }) approvals: ApprovalDto[];
  @ApiProperty({ example: 3 }) total: number;
  @ApiProperty({ example: 1 }) page: number;
  @ApiProperty({ example: 20 }) page_size: number;
}

export class ApprovalQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    enum: ['pending', 'decided'],
    default: 'pending',
    description: '`pending`: calls waiting for a decision; `decided`: approved, denied and expired ones.',
  })
  @IsOptional()
  @IsIn(['pending', 'decided'], { message: 'status must be pending or decided' })
  status: 'pending' | 'decided' = 'pending';
}

export class DecisionDto {
  @ApiProperty({
    example: 'toolu_01A09q90qw90lq917835lq9',
    description: 'The waiting call (`approval_required`).',
  })
  @IsString()
  @Length(1, 200)
  tool_use_id: string;

  @ApiProperty({ example: true, description: 'true: the call runs; false: the model gets an error result.' })
  @IsBoolean()
  approve: boolean;

  @ApiPropertyOptional({
    maxLength: 2000,
    example: 'Order 1002 is not eligible.',
    description: 'Recorded with the decision; a denial passes it to the model.',
  })
  @IsOptional()
  @IsString()
  @Length(1, 2000)
  reason?: string;

  @ApiPropertyOptional({
    example: '3f0a4c5e…',
    description:
      'The `arguments_sha256` the decider saw: a decision on other arguments is refused (409) and nothing runs.',
  })
  @IsOptional()
  @Matches(/^[0-9a-f]{64}$/, { message: 'arguments_sha256 must be 64 lower-case hex digits' })
  arguments_sha256?: string;
}

export class DecideDto {
  @ApiProperty({ type: [DecisionDto], minItems: 1, maxItems: 100 })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => DecisionDto)
  decisions: DecisionDto[];
}
