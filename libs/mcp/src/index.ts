export { McpModule } from './mcp.module';
export { McpServersService, MCP_HEADER_LIMITS } from './mcp-servers.service';
export { McpToolRefresher } from './mcp-tool-refresher';
export type { NewMcpServer } from './mcp-servers.service';
export type { McpServerRecord, McpToolRecord } from './mcp-server-records';
export { MCP_SERVER_NAME, parseMcpToolName, mcpToolName } from './mcp-names';
export { SecretBox } from './secret-box';
