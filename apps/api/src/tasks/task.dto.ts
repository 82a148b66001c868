// Request and response shapes of /v1/tasks, as the contract pins them (TaskStatus, 202 on creation).
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  Length,
  Matches,
  MaxLength,
  ValidateIf,
} from 'class-validator';
import { TASK_STATES, TaskState } from '@lib/tasks';
import type { UserMessage } from '@lib/llm';
import { USER_MESSAGE_SCHEMA } from '../chat/chat.dto';
import { PageQueryDto } from '../conversations/conversation.dto';

export class CreateTaskDto {
  @ApiProperty({ description: 'The agent that runs the task.', example: 'support' })
  @IsString()
  @Length(1, 100)
  agent_name: string;

  @ApiProperty({
    description:
      "What the agent should do; it is the first user message of the task's conversation. A string (1 to 50,000 characters), or content blocks as `ChatRequest.message` takes them (text, image, document).",
    oneOf: [
      {
        type: 'string',
        minLength: 1,
        maxLength: 50000,
        example: 'Check orders 1001 and 1002 and open a ticket for any that is delayed.',
      },
      USER_MESSAGE_SCHEMA.oneOf![1],
    ],
  })
  @ValidateIf((body: CreateTaskDto) => typeof body.instruction !== 'object' || body.instruction === null)
  @IsString()
  @Length(1, 50000)
  @Matches(/\S/, { message: 'instruction must not be blank' })
  instruction: UserMessage;

  @ApiPropertyOptional({
    description:
      'Called when the task ends, with `{event, task}` signed the Standard Webhooks way. URLs whose host ' +
      'resolves to loopback, private, link-local or metadata addresses are refused.',
    maxLength: 2048,
    example: 'https://hooks.example.com/agent-tasks',
  })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false, allow_underscores: true },
    { message: 'webhook_url must be an http or https URL' },
  )
  webhook_url?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'Kept with the task and returned in its status.',
    example: { report: 'weekly-orders' },
  })
  @IsOptional()
  @IsObject()
  metadata?: Record<string, unknown>;
}

export class TaskCreatedDto {
  @ApiProperty({ format: 'uuid' }) task_id: string;
  @ApiProperty({ enum: ['queued'], example: 'queued' }) status: 'queued';
}

export class TaskStatusDto {
  @ApiProperty({ format: 'uuid' }) task_id: string;
  @ApiProperty({ example: 'support' }) agent_name: string;
  @ApiProperty({ enum: TASK_STATES, example: 'running' }) status: TaskState;
  @ApiProperty({
    minimum: 0,
    maximum: 1,
    example: 0.33,
    description: 'Rises per agent iteration; 1 when completed.',
  })
  progress: number;
  @ApiProperty({ nullable: true, type: String, description: "The agent's answer once completed." })
  result: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: 'The model provider rejected the request (400): Invalid request.',
    description: 'Why the task failed; while a retry is pending, why the last attempt failed.',
  })
  error: string | null;
  @ApiProperty({ example: 812, description: 'input_tokens + output_tokens' }) total_tokens: number;
  @ApiProperty({ example: 640 }) input_tokens: number;
  @ApiProperty({ example: 172 }) output_tokens: number;
  @ApiProperty({ example: 0.0045 }) cost_usd: number;
  @ApiProperty({
    example: 1,
    description: 'Runs started so far. Execution is at-least-once: a run whose worker died is run again.',
  })
  attempts: number;
  @ApiProperty({
    format: 'uuid',
    description:
      "The task's agent conversation (viewable once the task's turn is stored; joinable while it runs).",
  })
  conversation_id: string;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { report: 'weekly-orders' } })
  metadata: Record<string, unknown>;
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) started_at: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) finished_at: string | null;
}

export class TaskListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: TASK_STATES, description: 'Only tasks in this status.' })
  @IsOptional()
  @IsIn(TASK_STATES, { message: `status must be one of: ${TASK_STATES.join(', ')}` })
  status?: TaskState;
}

export class TaskListDto {
  @ApiProperty({ type: [TaskStatusDto] }) tasks: TaskStatusDto[];
  @ApiProperty({ example: 42 }) total: number;
  @ApiProperty({ example: 1 }) page: number;
  @ApiProperty({ example: 20 }) page_size: number;
}

export class WebhookDeliveryDto {
  @ApiProperty({
    example: 'msg_2b7f1c9e4d6a4f0e8c3b5a7d9e1f2a4c',
    description: 'The event’s `webhook-id` header: the same on every attempt of it.',
  })
  webhook_id: string;
  @ApiProperty({ enum: ['task.completed', 'task.failed', 'task.cancelled'], example: 'task.completed' })
  event: string;
  @ApiProperty({ example: 2, description: 'The attempt’s number, from 1; a redelivery counts on.' })
  attempt: number;
  @ApiProperty({
    nullable: true,
    type: Number,
    example: 503,
    description:
      'The receiver’s HTTP status; null when no answer came (network error, DNS failure, timeout).',
  })
  status_code: number | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: 'The receiver answered 503.',
    description: 'Why the attempt failed; null when the receiver answered 2xx.',
  })
  error: string | null;
  @ApiProperty({ example: 84, description: 'How long the attempt took.' }) duration_ms: number;
  @ApiProperty({ format: 'date-time', description: 'When the attempt started.' }) at: string;
}

export class WebhookDeliveriesDto {
  @ApiProperty({
    type: [WebhookDeliveryDto],
    description: 'Every delivery attempt of the task’s webhook, in order.',
  })
  deliveries: WebhookDeliveryDto[];
}

export class RedeliveryDto {
  @ApiProperty({
    example: 'msg_2b7f1c9e4d6a4f0e8c3b5a7d9e1f2a4c',
    description: 'The same id as every earlier attempt.',
  })
  webhook_id: string;
  @ApiProperty({ enum: ['task.completed', 'task.failed', 'task.cancelled'], example: 'task.completed' })
  event: string;
  @ApiProperty({ example: 3, description: 'The number the new attempt will have.' }) attempt: number;
}
