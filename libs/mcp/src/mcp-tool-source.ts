// The registered MCP servers' tools as a source of the tool registry: listed, resolved and run per tenant.
import { Injectable } from '@nestjs/common';
import { CallToolResult, McpError } from '@modelcontextprotocol/sdk/types.js';
import { CallableTool, ToolCatalogEntry, ToolContext, ToolError, ToolSource } from '@lib/tools';
import { describe, McpClients } from './mcp-clients';
import { mcpToolName, parseMcpToolName } from './mcp-names';
import type { McpServerRecord, McpToolRecord } from './mcp-server-records';
import { McpServerRepository } from './mcp-server-repository';
import { McpSchemaCompiler } from './mcp-tool-schemas';

@Injectable()
export class McpToolSource implements ToolSource {
  constructor(
    private readonly servers: McpServerRepository,
    private readonly clients: McpClients,
    private readonly schemas: McpSchemaCompiler,
  ) {}

  async list(tenantId: string | null): Promise<ToolCatalogEntry[]> {
    return (await this.servers.visible(tenantId)).flatMap((server) =>
      server.tools.map((tool) => entry(server, tool)),
    );
  }

  async resolve(name: string, tenantId: string | null): Promise<ToolCatalogEntry[] | undefined> {
    const ref = parseMcpToolName(name);
    if (!ref) return undefined;
    const server = await this.servers.visibleByName(tenantId, ref.server);
    if (!server) return [];
    const tools = 'all' in ref ? server.tools : server.tools.filter((tool) => tool.name === ref.tool);
    return tools.map((tool) => entry(server, tool));
  }

  async callable(name: string, tenantId: string): Promise<CallableTool | undefined> {
    const ref = parseMcpToolName(name);
    if (!ref || 'all' in ref) return undefined;
    const server = await this.servers.visibleByName(tenantId, ref.server);
    const tool = server?.tools.find((t) => t.name === ref.tool);
    if (!server || !tool) return undefined;
    return {
      name,
      description: tool.description,
      inputSchema: tool.input_schema,
      origin: `mcp:${server.name}`,
      validate: (input) => this.schemas.problems(tool.input_schema, input),
      execute: (input, context) => this.call(server, tool, input as Record<string, unknown>, context),
    };
  }

  private async call(
    server: McpServerRecord,
    tool: McpToolRecord,
    input: Record<string, unknown>,
    context: ToolContext,
  ): Promise<string> {
    let result: CallToolResult;
    try {
      result = await this.clients.callTool(server, tool.name, input, callMeta(context), context.signal);
    } catch (error) {
      if (error instanceof McpError) {
        throw new ToolError(`The MCP server "${server.name}" refused the call: ${describe(error)}`);
      }
      throw new ToolError(
        `The MCP server "${server.name}" could not be reached or did not answer in MCP: ${describe(error)}. ` +
          'Try again later or continue without this tool.',
      );
    }
    const text = resultText(result);
    if (result.isError)
      throw new ToolError(text || `Tool "${tool.name}" reported an error without a message.`);
    return text || 'Done.';
  }
}

function entry(server: McpServerRecord, tool: McpToolRecord): ToolCatalogEntry {
  return {
    name: mcpToolName(server.name, tool.name),
    description: tool.description,
    input_schema: tool.input_schema,
    origin: `mcp:${server.name}`,
  };
}

/**
 * What the server learns about the call in `_meta`: the calling tenant, and the key that makes a retried call (the
 * run executed again, or the one retry after a lost session) recognisable as the same one.
 */
export function callMeta(context: ToolContext): Record<string, unknown> {
  return {
    tenant_id: context.tenantId,
    conversation_id: context.conversationId,
    idempotency_key:
      context.idempotencyKey ?? `${context.taskId ?? context.conversationId}:${context.toolUseId}`,
  };
}

/** The result as the model reads it: the text blocks, then a mention of what cannot be shown as text. */
export function resultText(result: CallToolResult): string {
  const parts: string[] = [];
  for (const block of result.content ?? []) {
    if (block.type === 'text') parts.push(block.text);
    else if (block.type === 'resource' && 'text' in block.resource) parts.push(String(block.resource.text));
    else if (block.type === 'resource_link') parts.push(`[resource ${block.uri}]`);
    else if (block.type === 'image' || block.type === 'audio')
      parts.push(`[${block.type} ${block.mimeType}]`);
    else parts.push(`[${block.type}]`);
  }
  if (!parts.length && result.structuredContent !== undefined)
    return JSON.stringify(result.structuredContent);
  return parts.join('\n');
}
