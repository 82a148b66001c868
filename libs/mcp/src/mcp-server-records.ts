// The plain records of this lib.

/** A tool of an MCP server as cached: its own name on that server, and what the model sees. */
export interface McpToolRecord {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
}

export interface McpServerRecord {
  id: string;
  /** Null: every tenant's. */
  tenantId: string | null;
  name: string;
  url: string;
  /** The sealed headers (never in clear), or null. */
  headersSealed: string | null;
  tools: McpToolRecord[];
  toolsRefreshedAt: Date;
  createdAt: Date;
}
