import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Max,
  Min,
} from 'class-validator';

export class CreateConversationDto {
  @ApiProperty({ example: 'support' })
  @IsString()
  @Length(1, 100)
  agent_name: string;

  @ApiPropertyOptional({
    minimum: 0,
    maximum: 1,
    example: 0.3,
    description:
      'Stored with the conversation but not sent to the model: the provider API version this deployment speaks refuses sampling parameters (GET /v1/agents reports `temperature: null`).',
  })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  temperature?: number;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: 25,
    example: 6,
    description: "Overrides the agent's limit of model calls per turn.",
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(25)
  max_iterations?: number;

  @ApiPropertyOptional({
    minimum: 0,
    example: 0.5,
    description:
      "This conversation's cost ceiling in USD, instead of the deployment's CONVERSATION_COST_LIMIT_USD (default 5). " +
      'A user key may only lower it (above 0, at most the deployment ceiling); an admin key may raise it, or remove ' +
      'it with 0. Left out or null: the deployment ceiling applies. ' +
      'A model call whose worst case would pass it is not made: the turn ends with `stop_reason: "cost_limit"`, ' +
      'and once no call fits, new turns answer 402 `budget_exceeded`.',
  })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false, maxDecimalPlaces: 8 })
  @Min(0)
  @Max(1_000_000)
  cost_limit_usd?: number;

  @ApiPropertyOptional({
    minimum: 1000,
    maximum: 10_000_000,
    example: 50_000,
    description:
      "A context budget in tokens below the model's window: each request sent to the model (system prompt, tools, " +
      'history and max_tokens) is kept under it by clearing old tool results and summarising older turns. ' +
      "Left out or null: the agent's budget, else the model's context window.",
  })
  @IsOptional()
  @IsInt()
  @Min(1000)
  @Max(10_000_000)
  max_context_tokens?: number;

  @ApiPropertyOptional({ maxLength: 200, example: 'Order questions' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  title?: string;

  @ApiPropertyOptional({
    type: [String],
    maxItems: 50,
    example: ['create_support_ticket'],
    description:
      "Tools of the agent whose calls must wait for a person's decision in this conversation, in addition to " +
      "those the agent's definition names (a client can add approvals, never remove them). Each must be one of " +
      "the agent's tools.",
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @Length(1, 200, { each: true })
  require_approval?: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { customer_id: 'c_42' } })
  @IsOptional()
  @IsObject()
  metadata?: Record<string, unknown>;
}

export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, default: 1 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'page must be a whole number' })
  @Min(1)
  page: number = 1;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'page_size must be a whole number' })
  @Min(1)
  @Max(100)
  page_size: number = 20;
}

export class ConversationSummaryDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'support' }) agent_name: string;
  @ApiProperty({
    nullable: true,
    type: Number,
    example: 3,
    description:
      'The agent version the conversation started with: every turn of it uses that version, whatever was saved ' +
      'since. Null for conversations older than versioned agents.',
  })
  agent_version: number | null;
  @ApiProperty({ nullable: true, type: String, example: 'Where is order 1001?' }) title: string | null;
  @ApiProperty({ example: 2 }) message_count: number;
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) last_message_at: string | null;
  @ApiProperty({ enum: ['active', 'archived'] }) status: 'active' | 'archived';
  @ApiProperty({ example: 812 }) total_tokens: number;
  @ApiProperty({ example: 0.0045 }) cost_usd: number;
  @ApiProperty({
    nullable: true,
    type: Number,
    example: 0.5,
    description: "The conversation's own cost ceiling in USD; null: the deployment's default applies.",
  })
  cost_limit_usd: number | null;
  @ApiProperty({
    nullable: true,
    type: Number,
    example: 50_000,
    description:
      "The conversation's own context budget in tokens; null: the agent's, else the model's window.",
  })
  max_context_tokens: number | null;
  @ApiProperty({
    type: [String],
    example: ['create_support_ticket'],
    description:
      'Tools this conversation added to those whose calls wait for a decision (the agent may name more).',
  })
  require_approval: string[];
}

const CONTENT_BLOCK_SCHEMA = {
  type: 'object',
  required: ['type'],
  properties: {
    type: {
      type: 'string',
      enum: ['text', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking', 'image', 'document'],
    },
    text: { type: 'string' },
    thinking: { type: 'string', description: "`thinking`: the model's reasoning." },
    signature: { type: 'string', description: "`thinking`: the provider's signature, sent back unchanged." },
    data: { type: 'string', description: '`redacted_thinking`: opaque, sent back unchanged.' },
    source: {
      type: 'object',
      additionalProperties: true,
      description: '`image` and `document`: `{type: "base64", media_type, data}` or `{type: "url", url}`.',
    },
    title: { type: 'string' },
    id: { type: 'string' },
    name: { type: 'string' },
    input: { type: 'object', additionalProperties: true },
    tool_use_id: { type: 'string' },
    content: { type: 'string' },
    is_error: { type: 'boolean' },
  },
};

export class MessageDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: ['user', 'assistant'] }) role: 'user' | 'assistant';
  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: CONTENT_BLOCK_SCHEMA }],
    description:
      'A string, or Anthropic-style content blocks: text, tool_use, tool_result; thinking and redacted_thinking (agents with extended thinking); image and document (sent by the user).',
    example: [{ type: 'text', text: 'Where is order 1001?' }],
  })
  content: unknown;
  @ApiProperty({ format: 'date-time' }) created_at: string;
}

export class ConversationDetailDto extends ConversationSummaryDto {
  @ApiProperty({ type: [MessageDto] }) messages: MessageDto[];
}

export class ConversationListDto {
  @ApiProperty({ type: [ConversationSummaryDto] }) conversations: ConversationSummaryDto[];
  @ApiProperty({ example: 42 }) total: number;
  @ApiProperty({ example: 1 }) page: number;
  @ApiProperty({ example: 20 }) page_size: number;
}
