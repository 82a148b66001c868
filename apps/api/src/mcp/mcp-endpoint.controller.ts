// POST /mcp: the streamable HTTP transport of the MCP server, stateless (every request stands alone, so any
// instance answers any request), behind the same API-key guard and rate limit as REST.
import { Controller, Delete, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentPrincipal } from '@lib/auth';
import type { Principal } from '@lib/auth';
import { ApiErrors, ApiKeyAuth } from '../http/api-errors';
import { AgentMcpServer } from './agent-mcp-server';

@ApiTags('mcp')
@ApiKeyAuth()
@Controller('mcp')
export class McpEndpointController {
  constructor(private readonly agents: AgentMcpServer) {}

  @Post()
  @ApiOperation({
    summary: 'The MCP endpoint (streamable HTTP, stateless)',
    description:
      "A JSON-RPC message of the Model Context Protocol. `tools/list` lists one tool per agent the key's tenant can " +
      'use (input `{message, conversation_id?}`); `tools/call` runs one turn as a run with `source: "mcp"` and ' +
      'answers the text, with `{conversation_id, run_id, stop_reason}` as structured content. Stateless: no ' +
      '`Mcp-Session-Id`, no server-to-client stream; answers are JSON.',
  })
  @ApiBody({
    schema: {
      type: 'object',
      additionalProperties: true,
      example: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    },
  })
  @ApiOkResponse({ description: 'The JSON-RPC answer.' })
  @ApiErrors(400, 413)
  async handle(
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @CurrentPrincipal() principal: Principal,
  ): Promise<void> {
    const server = this.agents.forCaller(principal);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    // From here on the transport writes the answer on the raw response.
    reply.hijack();
    reply.raw.setHeader('X-Request-ID', String(request.id));
    reply.raw.once('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(request.raw, reply.raw, request.body);
  }

  @Get()
  @HttpCode(405)
  @ApiOperation({
    summary: 'Not offered: the endpoint is stateless and has no server-to-client stream (405)',
  })
  notAllowed(@Res({ passthrough: true }) reply: FastifyReply) {
    return methodNotAllowed(reply);
  }

  @Delete()
  @HttpCode(405)
  @ApiOperation({ summary: 'Not offered: the endpoint is stateless and has no session to end (405)' })
  noSession(@Res({ passthrough: true }) reply: FastifyReply) {
    return methodNotAllowed(reply);
  }
}

function methodNotAllowed(reply: FastifyReply) {
  reply.header('Allow', 'POST');
  return {
    jsonrpc: '2.0',
    error: {
      code: -32000,
      message: 'Method not allowed: this MCP endpoint is stateless; send POST requests.',
    },
    id: null,
  };
}
