import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsObject, IsOptional, IsString, IsUrl, Length, Matches, ValidateIf } from 'class-validator';
import { MCP_HEADER_LIMITS, type McpServerRecord } from '@lib/mcp';

export class CreateMcpServerDto {
  @ApiProperty({
    description:
      'The server\'s name: agents name its tools `<name>__<tool>` (or `<name>__*`). Lowercase letters, digits and "-".',
    pattern: '^[a-z0-9][a-z0-9-]{0,31}$',
    example: 'crm',
  })
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9-]{0,31}$/, {
    message: 'name must be 1 to 32 lowercase letters, digits or "-", starting with a letter or digit',
  })
  name: string;

  @ApiProperty({
    description:
      'The streamable HTTP endpoint of the server. It must pass the same SSRF guard as webhooks (OUTBOUND_ALLOWED_HOSTS).',
    example: 'https://mcp.example.com/mcp',
  })
  @IsString()
  @Length(1, 2000)
  @IsUrl(
    { require_tld: false, require_protocol: true, protocols: ['http', 'https'] },
    { message: 'url must be an http or https URL' },
  )
  url: string;

  @ApiPropertyOptional({
    description: `Headers sent with every request to the server (a bearer token, an API key): stored encrypted (AES-256-GCM with SECRETS_KEY) and never returned or logged. At most ${MCP_HEADER_LIMITS.count} headers of at most ${MCP_HEADER_LIMITS.valueChars} characters each.`,
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { Authorization: 'Bearer <token>' },
  })
  @IsOptional()
  @IsObject()
  headers?: Record<string, unknown>;

  @ApiPropertyOptional({
    description:
      "The tenant whose agents may use the server; omitted: the key's tenant; `null`: every tenant (a global server).",
    type: String,
    nullable: true,
    example: null,
  })
  @ValidateIf((_dto, value) => value !== undefined && value !== null)
  @IsString()
  @Length(1, 100)
  tenant?: string | null;
}

export class McpToolDto {
  @ApiProperty({
    description: 'The name an agent uses: `<server>__<tool>`.',
    example: 'crm__lookup_customer',
  })
  name: string;
  @ApiProperty({ example: 'Finds a customer by e-mail.' }) description: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) input_schema: Record<string, unknown>;
}

export class McpServerDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'crm' }) name: string;
  @ApiProperty({ example: 'https://mcp.example.com/mcp' }) url: string;
  @ApiProperty({ type: String, nullable: true, description: "null: every tenant's server." })
  tenant: string | null;
  @ApiProperty({ description: 'Whether headers are stored for the server (they are never returned).' })
  has_headers: boolean;
  @ApiProperty({ type: [McpToolDto] }) tools: McpToolDto[];
  @ApiProperty({ format: 'date-time', description: 'When the tool list was last read from the server.' })
  tools_refreshed_at: string;
  @ApiProperty({ format: 'date-time' }) created_at: string;
}

export function toMcpServerDto(server: McpServerRecord): McpServerDto {
  return {
    id: server.id,
    name: server.name,
    url: server.url,
    tenant: server.tenantId,
    has_headers: server.headersSealed !== null,
    tools: server.tools.map((tool) => ({
      name: `${server.name}__${tool.name}`,
      description: tool.description,
      input_schema: tool.input_schema,
    })),
    tools_refreshed_at: server.toolsRefreshedAt.toISOString(),
    created_at: server.createdAt.toISOString(),
  };
}
