import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { AgentRegistry } from '@lib/agents';
import { LlmClient } from '@lib/llm';
import { ToolRegistry } from '@lib/tools';
import { TenantId } from '@lib/auth';
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
  @ApiProperty({ example: 0.3 }) temperature: number;
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
  @ApiProperty({
    description: '`builtin`, or `mcp:<server>` for a tool of a registered MCP server.',
    example: 'builtin',
  })
  origin: string;
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
      temperature: a.temperature,
      max_iterations: a.maxIterations,
    }));
  }

  @Get('tools')
  @ApiOperation({
    summary: 'The tools agents can call, with their JSON-schema input and origin',
    description:
      "Built-in tools, then the tools of the MCP servers the key's tenant can use (`<server>__<tool>`).",
  })
  @ApiOkResponse({ type: [ToolDto] })
  listTools(@TenantId() tenantId: string): Promise<ToolDto[]> {
    return this.tools.catalog(tenantId);
  }
}
