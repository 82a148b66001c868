import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import {
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  registerDecorator,
  ValidationOptions,
} from 'class-validator';
import { MULTITASK_STRATEGIES, ON_DISCONNECT } from '@lib/core';
import { DOCUMENT_MEDIA_TYPES, IMAGE_MEDIA_TYPES, MAX_TEXT_CHARS, UserMessage } from '@lib/llm';
import type { MultitaskStrategy, OnDisconnect, RunSource } from '@lib/core';
import type { RunRequest } from '@lib/runs';
import { PendingApprovalDto } from '../approvals/approval.dto';

const MEDIA_SOURCE = (mediaTypes: readonly string[]): SchemaObject => ({
  oneOf: [
    {
      type: 'object',
      required: ['type', 'media_type', 'data'],
      properties: {
        type: { type: 'string', enum: ['base64'] },
        media_type: { type: 'string', enum: [...mediaTypes] },
        data: { type: 'string', format: 'byte', description: 'Base64; its decoded size is limited.' },
      },
    },
    {
      type: 'object',
      required: ['type', 'url'],
      properties: {
        type: { type: 'string', enum: ['url'] },
        url: { type: 'string', format: 'uri', description: 'http or https; the model provider fetches it.' },
      },
    },
  ],
});

/** The OpenAPI schema of a user message: a string or content blocks. */
export const USER_MESSAGE_SCHEMA: Pick<SchemaObject, 'oneOf'> = {
  oneOf: [
    { type: 'string', minLength: 1, maxLength: MAX_TEXT_CHARS, example: 'Where is order 1001?' },
    {
      type: 'array',
      minItems: 1,
      description:
        'Content blocks: `text`, `image` (png, jpeg, gif, webp; at most MAX_IMAGE_BYTES decoded) and `document` (PDF; at most MAX_DOCUMENT_BYTES decoded), base64 or URL. A refused block is a 400 whose detail names it (`message[i]`).',
      items: {
        oneOf: [
          {
            type: 'object',
            required: ['type', 'text'],
            properties: {
              type: { type: 'string', enum: ['text'] },
              text: { type: 'string', minLength: 1, maxLength: MAX_TEXT_CHARS },
            },
          },
          {
            type: 'object',
            required: ['type', 'source'],
            properties: {
              type: { type: 'string', enum: ['image'] },
              source: MEDIA_SOURCE(IMAGE_MEDIA_TYPES),
            },
          },
          {
            type: 'object',
            required: ['type', 'source'],
            properties: {
              type: { type: 'string', enum: ['document'] },
              source: MEDIA_SOURCE(DOCUMENT_MEDIA_TYPES),
              title: { type: 'string', maxLength: 500 },
            },
          },
        ],
      },
    },
  ],
};

/**
 * A string of 1 to 10,000 non-blank characters, or an array (its blocks are checked, sizes included, by the run
 * supervisor before the run starts, with one detail per refused block).
 */
export function IsUserMessage(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isUserMessage',
      target: object.constructor,
      propertyName,
      options: {
        message: `${propertyName} must be a non-blank string of 1 to ${MAX_TEXT_CHARS} characters, or an array of content blocks`,
        ...options,
      },
      validator: {
        validate: (value: unknown) =>
          Array.isArray(value) ||
          (typeof value === 'string' &&
            value.length >= 1 &&
            value.length <= MAX_TEXT_CHARS &&
            /\S/.test(value)),
      },
    });
}

export class ChatRequestDto {
  @ApiProperty({
    description:
      'The user message: a string, or content blocks (text, image, document) — see the README, "Images and documents".',
    ...(USER_MESSAGE_SCHEMA as object),
  })
  @IsUserMessage()
  message: UserMessage;

  @ApiPropertyOptional({
    description:
      "`true`: the stream (SSE) also carries `thinking` events, the model's reasoning deltas, for agents with extended thinking. Off by default. On a socket `message`, it applies to the socket's following of the conversation from then on.",
    default: false,
  })
  @IsOptional()
  @IsBoolean({ message: 'include_thinking must be true or false' })
  include_thinking?: boolean;

  @ApiPropertyOptional({
    description: 'Continue this conversation; omit to start a new one.',
    format: 'uuid',
    example: '0f8fad5b-d9cb-469f-a165-70867728950e',
  })
  @IsOptional()
  @IsUUID('all', { message: 'conversation_id must be a UUID' })
  conversation_id?: string;

  @ApiPropertyOptional({
    description: 'The agent of a new conversation (ignored when continuing one). Defaults to `support`.',
    example: 'support',
  })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  agent_name?: string;

  @ApiPropertyOptional({
    description:
      'What a dropped connection (socket or SSE) does to the run it started: `continue` (default: the run goes on, is stored and can be resumed) or `cancel`.',
    enum: ON_DISCONNECT,
    default: 'continue',
  })
  @IsOptional()
  @IsIn(ON_DISCONNECT, { message: `on_disconnect must be one of: ${ON_DISCONNECT.join(', ')}` })
  on_disconnect?: OnDisconnect;

  @ApiPropertyOptional({
    description:
      'When the conversation already has a run going: `reject` (default, 409 conversation_busy), `enqueue` (runs after it, in arrival order) or `interrupt` (cancels it, then runs).',
    enum: MULTITASK_STRATEGIES,
    default: 'reject',
  })
  @IsOptional()
  @IsIn(MULTITASK_STRATEGIES, {
    message: `multitask_strategy must be one of: ${MULTITASK_STRATEGIES.join(', ')}`,
  })
  multitask_strategy?: MultitaskStrategy;
}

export class ToolUsedDto {
  @ApiProperty({ example: 'lookup_order' }) tool_name: string;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { order_number: '1001' } })
  arguments: Record<string, unknown>;
  @ApiProperty({ maxLength: 200, example: '{"order_number":"1001","status":"shipped","carrier":"UPS"}' })
  result_summary: string;
  @ApiProperty({ example: 12 }) duration_ms: number;
  @ApiProperty({ example: false }) is_error: boolean;
}

export const STOP_REASONS = [
  'end_turn',
  'max_iterations',
  'cost_limit',
  'cancelled',
  'max_tokens',
  'requires_approval',
] as const;

export class ChatResponseDto {
  @ApiProperty({ example: '[offline-demo] Order 1001 has shipped with UPS.' }) response: string;
  @ApiProperty({ format: 'uuid' }) conversation_id: string;
  @ApiProperty({ format: 'uuid', description: 'The run this turn was (see GET /v1/runs/{id}).' })
  run_id: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'The stored assistant message.' })
  message_id: string | null;
  @ApiProperty({ example: 'support' }) agent_name: string;
  @ApiProperty({ type: [ToolUsedDto] }) tools_used: ToolUsedDto[];
  @ApiProperty({ example: 812, description: 'input_tokens + output_tokens' }) total_tokens: number;
  @ApiProperty({ example: 640, description: 'Summed over the turn, cache reads and writes included.' })
  input_tokens: number;
  @ApiProperty({ example: 172 }) output_tokens: number;
  @ApiProperty({ example: 512, description: 'The part of input_tokens read from the prompt cache.' })
  cache_read_input_tokens: number;
  @ApiProperty({ example: 0, description: 'The part of input_tokens written to the prompt cache.' })
  cache_creation_input_tokens: number;
  @ApiProperty({ example: 0.0045 }) cost_usd: number;
  @ApiProperty({ example: 950 }) latency_ms: number;
  @ApiProperty({ enum: STOP_REASONS, example: 'end_turn' }) stop_reason: (typeof STOP_REASONS)[number];
  @ApiProperty({
    example: 640,
    description:
      "The input tokens of the turn's last model call, cache reads and writes included: how full its context was.",
  })
  context_tokens: number;
  @ApiProperty({
    example: false,
    description:
      'True when the turn sent the model a compacted history: older turns as a summary, or old tool results cleared. ' +
      'The stored history is never changed.',
  })
  compacted: boolean;
  @ApiPropertyOptional({
    type: [PendingApprovalDto],
    description:
      'With `stop_reason: "requires_approval"`: the tool calls waiting for a decision (POST ' +
      '/v1/runs/{run_id}/approvals). The run continues once they are decided; follow it with GET ' +
      "/v1/runs/{run_id} or the conversation's events.",
  })
  pending_approvals?: PendingApprovalDto[];
}

/** A chat request as the run supervisor takes it, whichever transport it came through. */
export function toRunRequest(
  body: ChatRequestDto,
  caller: { tenantId: string; apiKeyId: string | null; source: RunSource },
): RunRequest {
  return {
    tenantId: caller.tenantId,
    apiKeyId: caller.apiKeyId,
    source: caller.source,
    message: body.message,
    conversationId: body.conversation_id,
    agentName: body.agent_name,
    multitaskStrategy: body.multitask_strategy,
  };
}
