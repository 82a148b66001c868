// How an agent names an MCP server's tools: `<server>__<tool>`, or `<server>__*` for all of them.

/** A server name: lowercase letters, digits and hyphens (never `__`, so a tool name splits one way only). */
export const MCP_SERVER_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** The provider's rule for tool names: an MCP tool whose full name breaks it is left out at listing. */
export const MODEL_TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

export const SEPARATOR = '__';

export type McpToolRef = { server: string; tool: string } | { server: string; all: true };

/** Splits `<server>__<tool>` (or `<server>__*`); null when the name is not an MCP tool name. */
export function parseMcpToolName(name: string): McpToolRef | null {
  const split = name.indexOf(SEPARATOR);
  if (split <= 0) return null;
  const server = name.slice(0, split);
  const tool = name.slice(split + SEPARATOR.length);
  if (!MCP_SERVER_NAME.test(server) || !tool) return null;
  if (tool === '*') return { server, all: true };
  return MODEL_TOOL_NAME.test(name) ? { server, tool } : null;
}

export function mcpToolName(server: string, tool: string): string {
  return `${server}${SEPARATOR}${tool}`;
}
