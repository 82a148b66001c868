import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { AgentRegistry } from '@lib/agents';
import { LlmClient } from '@lib/llm';
import { ToolRegistry } from '@lib/tools';
import { ApiKeyAuth } from '../http/api-errors';

export class AgentDto {
  @ApiProperty({ example: 'support' }) name: string;
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
    description:
      "Always null: no sampling temperature is sent to the model. The provider API version this deployment speaks (anthropic-version 2026-10-21) refuses sampling parameters, so the model samples with its own default. A conversation's `temperature` is stored but not sent.",
  })
  temperature: number | null;
  @ApiProperty({
    type: Number,
    nullable: true,
    example: null,
    description: 'Extended thinking: the tokens the model may reason in before each answer; null when off.',
  })
  thinking_budget_tokens: number | null;
  @ApiProperty({ example: 6 }) max_iterations: number;
}

export class ToolDto {
  @ApiProperty({ example: 'lookup_order' }) name: string;
  @ApiProperty({ example: 'Look up an order by its number.' }) description: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { type: 'object', properties: { order_number: { type: 'string' } }, required: ['order_number'] },
  })
  input_schema: Record<string, unknown>;
}

@ApiTags('catalog')
@ApiKeyAuth()
@Controller('v1')
export class CatalogController {
  constructor(
    private readonly agents: AgentRegistry,
    private readonly tools: ToolRegistry,
    private readonly llm: LlmClient,
  ) {}

  @Get('agents')
  @ApiOperation({ summary: 'The agents this deployment offers' })
  @ApiOkResponse({ type: [AgentDto] })
  listAgents(): AgentDto[] {
    return this.agents.list().map((a) => ({
      name: a.name,
      description: a.description,
      model: this.llm.modelFor(a.model),
      tools: [...a.tools],
      // The truth about what is sent: nothing (see AgentDto.temperature).
      temperature: null,
      thinking_budget_tokens: a.thinkingBudgetTokens ?? null,
      max_iterations: a.maxIterations,
    }));
  }

  @Get('tools')
  @ApiOperation({ summary: 'The tools agents can call, with their JSON-schema input' })
  @ApiOkResponse({ type: [ToolDto] })
  listTools(): ToolDto[] {
    return this.tools.list();
  }
}
