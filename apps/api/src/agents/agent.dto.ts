// The agents API's bodies and answers.
import { ApiProperty, ApiPropertyOptional, ApiPropertyOptions } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  ValidateBy,
  ValidationOptions,
} from 'class-validator';
import { AGENT_LIMITS, AGENT_NAME_PATTERN } from '@lib/agents';

/** Why no agent has a temperature on the wire. */
const TEMPERATURE_NOT_SENT =
  'Null: no sampling temperature is sent to the model. The provider API version this deployment speaks ' +
  '(anthropic-version 2026-10-21) refuses sampling parameters, so the model samples with its own default.';

const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
const MODEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,99}$/;
const TOOL_NAME = /^[A-Za-z0-9_*-]{1,128}$/;

/** A tool of an agent as the body gives it: its name, or `{name, requires_approval}`. */
export type AgentToolInput = string | { name: string; requires_approval?: boolean };

function isToolInput(item: unknown): item is AgentToolInput {
  if (typeof item === 'string') return TOOL_NAME.test(item);
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return false;
  const { name, requires_approval, ...rest } = item as Record<string, unknown>;
  return (
    Object.keys(rest).length === 0 &&
    typeof name === 'string' &&
    TOOL_NAME.test(name) &&
    (requires_approval === undefined || typeof requires_approval === 'boolean')
  );
}

function IsAgentToolList(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isAgentToolList',
      validator: {
        validate: (value: unknown) => Array.isArray(value) && value.every(isToolInput),
        defaultMessage: () =>
          'tools must be tool names (letters, digits, "_", "-"; "<server>__*" for all of an MCP server\'s) ' +
          'or {name, requires_approval} objects',
      },
    },
    options,
  );
}

const TOOLS_SCHEMA: ApiPropertyOptions = {
  type: 'array',
  maxItems: AGENT_LIMITS.tools,
  items: {
    oneOf: [
      { type: 'string', example: 'lookup_order' },
      {
        type: 'object',
        required: ['name'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', example: 'create_support_ticket' },
          requires_approval: { type: 'boolean', default: false },
        },
      },
    ],
  },
  example: ['search_knowledge_base', { name: 'create_support_ticket', requires_approval: true }],
  description:
    "The tools the model is offered, in this order: built-in tools by name, an MCP server's as `<server>__<tool>` " +
    "(or `<server>__*`). Every name must exist for the agent's tenant (for a global agent: for every tenant), " +
    'as `GET /v1/tools` lists them. `requires_approval: true` makes each call of that tool wait for a person.',
};

/** What a PUT takes: the agent's whole definition (what is left out takes its default again). */
export class AgentSettingsDto {
  @ApiProperty({
    minLength: 1,
    maxLength: AGENT_LIMITS.descriptionChars,
    example: 'Answers billing questions and opens tickets.',
  })
  @IsString()
  @Length(1, AGENT_LIMITS.descriptionChars)
  description: string;

  @ApiProperty({
    minLength: 1,
    maxLength: AGENT_LIMITS.systemPromptChars,
    example: 'You are the billing assistant of Acme. Answer from the tools; never guess an amount.',
  })
  @IsString()
  @Length(1, AGENT_LIMITS.systemPromptChars)
  system_prompt: string;

  @ApiPropertyOptional({
    nullable: true,
    type: String,
    example: 'claude-sonnet-4-6',
    description: "Left out or null: the deployment's default model (ANTHROPIC_MODEL).",
  })
  @IsOptional()
  @IsString()
  @Matches(MODEL_PATTERN, { message: 'model must be a model name such as claude-sonnet-4-6' })
  model?: string | null;

  @ApiProperty(TOOLS_SCHEMA)
  @IsArray()
  @ArrayMaxSize(AGENT_LIMITS.tools)
  @IsAgentToolList()
  tools: AgentToolInput[];

  @ApiPropertyOptional({
    minimum: 0,
    maximum: 1,
    default: 1,
    example: 0.3,
    description: `Stored, not sent. ${TEMPERATURE_NOT_SENT}`,
  })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  temperature?: number;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: AGENT_LIMITS.maxIterations,
    default: 6,
    description: 'Model calls per turn at most.',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(AGENT_LIMITS.maxIterations)
  max_iterations?: number;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: AGENT_LIMITS.maxTokens,
    default: 2048,
    description: 'Output tokens per model call at most.',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(AGENT_LIMITS.maxTokens)
  max_tokens?: number;

  @ApiPropertyOptional({
    nullable: true,
    type: Number,
    minimum: AGENT_LIMITS.minThinkingBudgetTokens,
    example: 4096,
    description:
      'Extended thinking: the tokens each model call may think with (less than max_tokens). Null: none.',
  })
  @IsOptional()
  @IsInt()
  @Min(AGENT_LIMITS.minThinkingBudgetTokens)
  @Max(AGENT_LIMITS.maxTokens)
  thinking_budget_tokens?: number | null;

  @ApiPropertyOptional({
    nullable: true,
    type: Number,
    minimum: 1000,
    maximum: 10_000_000,
    example: 50_000,
    description:
      "The agent's context budget in tokens, below its model's window: longer conversations are cleared and " +
      "compacted to fit it. Null: the model's window. A conversation's own max_context_tokens may lower it further.",
  })
  @IsOptional()
  @IsInt()
  @Min(1000)
  @Max(10_000_000)
  max_context_tokens?: number | null;

  @ApiPropertyOptional({
    nullable: true,
    type: String,
    example: 'acme',
    description:
      "Whose agent. POST: left out, the key's tenant; null, every tenant's (a global agent); a tenant id, that " +
      "tenant's. PUT: left out, the agent the key's tenant sees by that name (its own, else the global one); null, " +
      "the global one; a tenant id, that tenant's.",
  })
  @IsOptional()
  @IsString()
  @Matches(TENANT_PATTERN, {
    message: "tenant must be 1 to 100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
  })
  tenant?: string | null;
}

export class CreateAgentDto extends AgentSettingsDto {
  @ApiProperty({
    pattern: AGENT_NAME_PATTERN.source,
    example: 'billing',
    description: 'Lower-case letters, digits, "_" and "-", starting with a letter; at most 64 characters.',
  })
  @IsString()
  @Matches(AGENT_NAME_PATTERN, {
    message: 'name must be 1 to 64 lower-case letters, digits, "_" or "-", starting with a letter',
  })
  name: string;
}

export class UpdateAgentDto extends AgentSettingsDto {
  @ApiPropertyOptional({
    example: 'billing',
    description: 'When given, the name in the path: an agent keeps its name.',
  })
  @IsOptional()
  @IsString()
  name?: string;
}

export class DeleteAgentQueryDto {
  @ApiPropertyOptional({
    example: 'acme',
    description:
      "Whose agent to delete: that tenant's. Left out (and without `global`): the one the key's tenant sees by " +
      'that name (its own, else the global one).',
  })
  @IsOptional()
  @IsString()
  @Matches(TENANT_PATTERN, { message: 'tenant must be a tenant id' })
  tenant?: string;

  @ApiPropertyOptional({ enum: ['true', 'false'], description: '`true`: the global agent of that name.' })
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'global must be true or false' })
  global?: 'true' | 'false';
}

export class AgentToolDto {
  @ApiProperty({ example: 'lookup_order' }) name: string;
  @ApiProperty({ example: false }) requires_approval: boolean;
  @ApiProperty({
    nullable: true,
    type: String,
    example: 'builtin',
    description: '`builtin`, or `mcp:<server>`; null when the name no longer stands for any tool.',
  })
  origin: string | null;
  @ApiProperty({ nullable: true, type: String, example: 'Look up an order by its number.' })
  description: string | null;
  @ApiProperty({ nullable: true, type: 'object', additionalProperties: true })
  input_schema: Record<string, unknown> | null;
}

/** An agent: its current version, or the version asked for. */
export class AgentDto {
  @ApiProperty({ example: 'support' }) name: string;
  @ApiProperty({
    nullable: true,
    type: String,
    example: null,
    description: "The tenant the agent belongs to; null: every tenant's.",
  })
  tenant: string | null;
  @ApiProperty({ example: 2, description: 'Starts at 1; each PUT saves the next.' }) version: number;
  @ApiProperty({ example: 'Customer support: answers how-to questions, tracks orders, opens tickets.' })
  description: string;
  @ApiProperty({ example: 'You are the customer support agent of an online store.' }) system_prompt: string;
  @ApiProperty({
    example: 'claude-sonnet-4-6',
    description: '`offline-demo` while no ANTHROPIC_API_KEY is set.',
  })
  model: string;
  @ApiProperty({
    type: Number,
    nullable: true,
    example: null,
    description: TEMPERATURE_NOT_SENT,
  })
  temperature: number | null;
  @ApiProperty({ example: 6 }) max_iterations: number;
  @ApiProperty({ example: 2048 }) max_tokens: number;
  @ApiProperty({ nullable: true, type: Number, example: null }) thinking_budget_tokens: number | null;
  @ApiProperty({ nullable: true, type: Number, example: null }) max_context_tokens: number | null;
  @ApiProperty({
    type: [AgentToolDto],
    description:
      'The tools as the model sees them; a `<server>__*` entry appears as each tool it stands for.',
  })
  tools: AgentToolDto[];
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({ format: 'date-time', description: 'When this version was saved.' }) updated_at: string;
}

/** An agent in the list: what version 1 listed, and its version and owner. */
export class AgentSummaryDto {
  @ApiProperty({ example: 'support' }) name: string;
  @ApiProperty({ nullable: true, type: String, example: null }) tenant: string | null;
  @ApiProperty({ example: 1 }) version: number;
  @ApiProperty({ example: 'Customer support: answers how-to questions, tracks orders, opens tickets.' })
  description: string;
  @ApiProperty({
    example: 'claude-sonnet-4-6',
    description: '`offline-demo` while no ANTHROPIC_API_KEY is set.',
  })
  model: string;
  @ApiProperty({ type: [String], example: ['search_knowledge_base', 'lookup_order'] }) tools: string[];
  @ApiProperty({
    type: Number,
    nullable: true,
    example: null,
    description: TEMPERATURE_NOT_SENT,
  })
  temperature: number | null;
  @ApiProperty({ example: 6 }) max_iterations: number;
}
