// Payloads of the client events on /chat, validated with the same rules as their REST twins.
import { plainToInstance } from 'class-transformer';
import {
  IsBoolean,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  Min,
  validate,
  ValidateIf,
} from 'class-validator';
import { ErrorDetail, ValidationError } from '@lib/core';
import { flattenFieldErrors } from '../http/validation';
import { inspectJson } from '../http/json-body';

export class ConversationRefPayload {
  @IsUUID('all', { message: 'conversation_id must be a UUID' })
  conversation_id: string;
}

export class JoinPayload extends ConversationRefPayload {
  // Omitted means live events only; `null` is refused like any other non-number (IsOptional would let it through,
  // and the feed would then replay from the start).
  @ValidateIf((payload: JoinPayload) => payload.after_seq !== undefined)
  @IsInt({ message: 'after_seq must be a non-negative whole number' })
  @Min(0, { message: 'after_seq must be a non-negative whole number' })
  @Max(Number.MAX_SAFE_INTEGER, { message: 'after_seq is too large' })
  after_seq?: number;

  /** Also receive the conversation's `thinking` events (off by default). */
  @IsOptional()
  @IsBoolean({ message: 'include_thinking must be true or false' })
  include_thinking?: boolean;
}

/** `approve`: one decision on a run's waiting tool call (the REST route takes several at once). */
export class ApprovePayload {
  @IsUUID('all', { message: 'run_id must be a UUID' })
  run_id: string;

  @IsString({ message: 'tool_use_id must be a string' })
  @Length(1, 200, { message: 'tool_use_id must be 1 to 200 characters' })
  tool_use_id: string;

  @IsBoolean({ message: 'approve must be true or false' })
  approve: boolean;

  @IsOptional()
  @IsString({ message: 'reason must be a string' })
  @Length(1, 2000, { message: 'reason must be 1 to 2000 characters' })
  reason?: string;

  @IsOptional()
  @Matches(/^[0-9a-f]{64}$/, { message: 'arguments_sha256 must be 64 lower-case hex digits' })
  arguments_sha256?: string;
}

export class TaskRefPayload {
  @IsUUID('all', { message: 'task_id must be a UUID' })
  task_id: string;
}

/** The payload as an instance of `type`, or a ValidationError with one detail per field. */
export async function parsePayload<T extends object>(type: new () => T, payload: unknown): Promise<T> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new ValidationError('The event payload must be a JSON object.');
  }
  // The checks every HTTP body gets (text PostgreSQL cannot store, depth) before anything walks it.
  const unstorable = inspectJson(payload);
  if (unstorable.length) throw new ValidationError('The event payload is invalid.', unstorable);
  const instance = plainToInstance(type, payload);
  const errors = await validate(instance, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length) {
    const details: ErrorDetail[] = flattenFieldErrors(errors);
    throw new ValidationError('The event payload is invalid.', details);
  }
  return instance;
}
