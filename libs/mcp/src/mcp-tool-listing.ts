// Reading a server's tools and keeping what can be offered: the one path of registration, the schedule and
// `tools/list_changed`.
import { Injectable, Logger } from '@nestjs/common';
import type { Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { describe, McpClients, McpEndpoint } from './mcp-clients';
import type { McpToolRecord } from './mcp-server-records';
import { McpServerRepository } from './mcp-server-repository';
import { McpSchemaCompiler } from './mcp-tool-schemas';

@Injectable()
export class McpToolListing {
  private readonly logger = new Logger('McpServers');

  constructor(
    private readonly clients: McpClients,
    private readonly schemas: McpSchemaCompiler,
    private readonly servers: McpServerRepository,
  ) {}

  /** Contacts the server and answers the tools that can be offered (throws when it cannot be listed). */
  async read(endpoint: McpEndpoint): Promise<McpToolRecord[]> {
    return this.usable(endpoint, await this.clients.listTools(endpoint));
  }

  /** Stores a listing as the server's cached tools; a failure is logged, the last good list stays. */
  async save(endpoint: McpEndpoint, tools: McpToolRecord[], reason: string): Promise<void> {
    try {
      await this.servers.saveTools(endpoint.id, tools);
      this.logger.log(`MCP server "${endpoint.name}" (${endpoint.id}): ${tools.length} tools (${reason}).`);
    } catch (error) {
      this.logger.warn(`MCP server "${endpoint.name}" (${endpoint.id}): tools not saved: ${describe(error)}`);
    }
  }

  /** Closes this instance's session with a deleted server. */
  forget(id: string): void {
    this.clients.close(id);
  }

  /** The tools that can be offered; each one left out is a warning naming the server and why. */
  usable(endpoint: McpEndpoint, listed: McpTool[]): McpToolRecord[] {
    const { tools, skipped } = this.schemas.usable(endpoint.name, listed);
    for (const reason of skipped) {
      this.logger.warn(`MCP server "${endpoint.name}" (${endpoint.id}): skipped ${reason}.`);
    }
    return tools;
  }
}
