// POST /mcp: the streamable HTTP transport of the MCP server, stateless (every request stands alone, so any
// instance answers any request), behind the same API-key guard and rate limit as REST. It speaks JSON-RPC, not
// REST: left out of the OpenAPI document (the README and the MCP specification describe it).
import { Controller, Delete, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentPrincipal } from '@lib/auth';
import type { Principal } from '@lib/auth';
import { AgentMcpServer } from './agent-mcp-server';

@ApiExcludeController()
@Controller('mcp')
export class McpEndpointController {
  constructor(private readonly agents: AgentMcpServer) {}

  @Post()
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
    // From here on the transport writes the answer on the raw response: it carries the headers set so far (security,
    // rate limit) and the ones every answer has.
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value !== undefined) reply.raw.setHeader(name, value);
    }
    reply.raw.setHeader('X-Request-ID', String(request.id));
    reply.raw.setHeader('X-Response-Time', `${reply.elapsedTime.toFixed(2)}ms`);
    reply.hijack();
    reply.raw.once('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(request.raw, reply.raw, request.body);
  }

  /** Stateless: no server-to-client stream to open. */
  @Get()
  @HttpCode(405)
  notAllowed(@Res({ passthrough: true }) reply: FastifyReply) {
    return methodNotAllowed(reply);
  }

  /** Stateless: no session to end. */
  @Delete()
  @HttpCode(405)
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
