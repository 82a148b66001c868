// The Tool contract: what the agent runner may call on the model's behalf.
export interface ToolContext {
  tenantId: string;
  conversationId: string;
  /** The model's `tool_use` id. */
  toolUseId: string;
  taskId?: string;
  /**
   * `<run_id>:<tool_use_id>`: the same on every execution of this tool call, however often its run is executed
   * again (a retried task, a resumed run). A tool with side effects keys them on it, so a call that runs again
   * after a crash mid-tool does not repeat them. Outside a run (a tool called directly): `<task or none>:<tool_use_id>`.
   */
  idempotencyKey?: string;
  signal: AbortSignal;
  /**
   * The tools the calling agent may use. When given, the registry refuses any other name, so a model
   * cannot reach a tool its agent was not configured with by naming it.
   */
  allowedTools?: readonly string[];
}

export interface Tool<Input = Record<string, unknown>> {
  readonly name: string;
  readonly description: string;
  /** JSON Schema (draft 2020-12 subset that ajv accepts) of the input object. */
  readonly inputSchema: Record<string, unknown>;
  /** Overrides the registry's default timeout. */
  readonly timeoutMs?: number;
  /**
   * Whether running this call a second time is safe (default true). A run's journal records each tool result as
   * it completes, and a recorded call never runs again; a call that had started but whose result was never
   * recorded (its process died mid-tool) runs again when its run is re-executed — unless its tool says
   * `idempotent: false`: then the model gets an `is_error` result saying the call was interrupted and is not safe
   * to retry. A tool with side effects should rather stay idempotent by keying them on `context.idempotencyKey`.
   */
  readonly idempotent?: boolean;
  /** Returns a JSON-serialisable value or a string; throws to report a failure to the model. */
  execute(input: Input, context: ToolContext): Promise<unknown>;
}

/** What the registry hands back for one `tool_use`: always a result, never a throw. */
export interface ToolOutcome {
  tool_use_id: string;
  tool_name: string;
  /** The text that goes back to the model in the `tool_result` block. */
  content: string;
  is_error: boolean;
  duration_ms: number;
}

/** A tool's description as the model and `GET /v1/tools` see it. */
export interface ToolSpec {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
}

/** Where a tool comes from: `builtin`, or `mcp:<server name>` for a tool of a registered MCP server. */
export type ToolOrigin = 'builtin' | `mcp:${string}`;

/** A tool as the catalog (`GET /v1/tools`, an agent's resolved tools) shows it. */
export interface ToolCatalogEntry extends ToolSpec {
  origin: ToolOrigin;
}

/**
 * A set of tools that is not the built-in one (an MCP server's): what a tenant may see and name. The registry asks
 * every source, so a name that no source knows does not exist for that tenant.
 */
export interface ToolSource {
  /** Every tool of this source the tenant can use (null: only those every tenant can use, for a global agent). */
  list(tenantId: string | null): Promise<ToolCatalogEntry[]>;
  /**
   * The tools that `name` stands for, for this tenant (null: for every tenant): one tool, several for a pattern the
   * source accepts (such as `<server>__*`), or `undefined` when the name is not this source's to answer.
   */
  resolve(name: string, tenantId: string | null): Promise<ToolCatalogEntry[] | undefined>;
}

/** The answer of `ToolRegistry.resolve`: the tools the names stand for, and the names nothing stands for. */
export interface ResolvedTools {
  tools: ToolCatalogEntry[];
  unknown: string[];
}

/**
 * A failure the tool reports to the model on purpose ("No order with number 1234"): its message is
 * written for the model and passed through as it is. Other errors are reduced to a safe sentence.
 */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolError';
  }
}
