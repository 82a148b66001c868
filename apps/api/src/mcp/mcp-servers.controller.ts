// MCP servers over REST: admins register and delete them; every key of a tenant reads the ones it can use.
import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal, Roles, TenantId } from '@lib/auth';
import type { Principal } from '@lib/auth';
import { McpServersService } from '@lib/mcp';
import { ApiAdminAuth, ApiErrors, ApiKeyAuth } from '../http/api-errors';
import { uuidParam } from '../http/uuid-param';
import { CreateMcpServerDto, McpServerDto, toMcpServerDto } from './mcp-server.dto';

@ApiTags('mcp')
@Controller('v1/mcp-servers')
export class McpServersController {
  constructor(private readonly servers: McpServersService) {}

  @Post()
  @Roles('admin')
  @ApiAdminAuth()
  @ApiOperation({
    summary: 'Register an MCP server (admin only)',
    description:
      'The server is contacted over the streamable HTTP transport and its tools listed before it is stored: a server ' +
      'that cannot be reached or does not answer in MCP is a 400 with the reason. Tools whose input schema is not a ' +
      'valid JSON Schema of an object are left out (and logged). `headers` are stored encrypted and never returned; ' +
      'without SECRETS_KEY a server with headers is refused (503).',
  })
  @ApiCreatedResponse({ type: McpServerDto })
  @ApiErrors(400, 409, 413, 503)
  async create(
    @Body() body: CreateMcpServerDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<McpServerDto> {
    const server = await this.servers.register(
      {
        name: body.name,
        url: body.url,
        headers: body.headers,
        tenant: body.tenant === undefined ? principal.tenantId : body.tenant,
      },
      principal.apiKeyId,
    );
    return toMcpServerDto(server);
  }

  @Get()
  @ApiKeyAuth()
  @ApiOperation({ summary: "The MCP servers the key's tenant can use: its own and the global ones" })
  @ApiOkResponse({ type: [McpServerDto] })
  async list(@TenantId() tenantId: string): Promise<McpServerDto[]> {
    return (await this.servers.list(tenantId)).map(toMcpServerDto);
  }

  @Get(':id')
  @ApiKeyAuth()
  @ApiOperation({ summary: 'One MCP server and its cached tools' })
  @ApiOkResponse({ type: McpServerDto })
  @ApiErrors(400, 404)
  async get(@Param('id', uuidParam()) id: string, @TenantId() tenantId: string): Promise<McpServerDto> {
    return toMcpServerDto(await this.servers.get(tenantId, id));
  }

  @Delete(':id')
  @HttpCode(204)
  @Roles('admin')
  @ApiAdminAuth()
  @ApiOperation({
    summary: 'Delete an MCP server (admin only)',
    description: 'Agents that name its tools keep running without them.',
  })
  @ApiNoContentResponse()
  @ApiErrors(400, 404)
  async remove(@Param('id', uuidParam()) id: string, @TenantId() tenantId: string): Promise<void> {
    await this.servers.delete(tenantId, id);
  }
}
