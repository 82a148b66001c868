import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { TenantId } from '@lib/auth';
import { ToolRegistry } from '@lib/tools';
import { ApiKeyAuth } from '../http/api-errors';

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
    example: 'builtin',
    description:
      '`builtin`, or `mcp:<server>` for a tool of one of the tenant’s (or the global) MCP servers.',
  })
  origin: string;
}

@ApiTags('catalog')
@ApiKeyAuth()
@Controller('v1')
export class CatalogController {
  constructor(private readonly tools: ToolRegistry) {}

  @Get('tools')
  @ApiOperation({
    summary: 'The tools this tenant’s agents can call, with their JSON-schema input and origin',
    description: 'An agent names them in `tools`; built-in tools first.',
  })
  @ApiOkResponse({ type: [ToolDto] })
  async listTools(@TenantId() tenantId: string): Promise<ToolDto[]> {
    return (await this.tools.catalog(tenantId)).map((t) => ({
      name: t.name,
      description: t.description,
      input_schema: t.input_schema,
      origin: t.origin,
    }));
  }
}
