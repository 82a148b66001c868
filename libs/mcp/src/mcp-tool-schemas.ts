// What an MCP server lists becomes what the model may see: names that fit the provider, input schemas that compile.
import Ajv2020, { ErrorObject, ValidateFunction } from 'ajv/dist/2020';
import type { McpToolRecord } from './mcp-server-records';
import { mcpToolName, MODEL_TOOL_NAME } from './mcp-names';

const MAX_DESCRIPTION_CHARS = 4_000;
const MAX_SCHEMA_CHARS = 64_000;

/** The tools of one listing that can be offered, and a sentence for each one left out. */
export interface ListedTools {
  tools: McpToolRecord[];
  skipped: string[];
}

interface ListedTool {
  name: string;
  description?: string;
  inputSchema: unknown;
}

/**
 * Compiles MCP input schemas (JSON Schema; servers write draft-07 or 2020-12): lenient about unknown keywords,
 * strict about types (no coercion, no defaults), as the built-in tools are.
 */
export class McpSchemaCompiler {
  private readonly ajv = new Ajv2020({
    allErrors: true,
    strict: false,
    coerceTypes: false,
    useDefaults: false,
    verbose: true,
    validateFormats: false,
  });
  private readonly compiled = new Map<string, ValidateFunction>();

  /** The validator of a schema, compiled once per distinct schema; throws when it does not compile. */
  validator(schema: Record<string, unknown>): ValidateFunction {
    const text = JSON.stringify(schema);
    let validate = this.compiled.get(text);
    if (!validate) {
      const { $schema: _dialect, $id: _id, ...rest } = schema;
      validate = this.ajv.compile(rest);
      if (this.compiled.size > 5_000) this.compiled.clear();
      this.compiled.set(text, validate);
    }
    return validate;
  }

  problems(schema: Record<string, unknown>, input: unknown): ErrorObject[] {
    const validate = this.validator(schema);
    return validate(input) ? [] : [...(validate.errors ?? [])];
  }

  /** The listing's usable tools; the rest are described in `skipped` (the caller warns). */
  usable(server: string, listed: readonly ListedTool[]): ListedTools {
    const tools: McpToolRecord[] = [];
    const skipped: string[] = [];
    const seen = new Set<string>();
    for (const tool of listed) {
      const fullName = mcpToolName(server, String(tool.name));
      if (!MODEL_TOOL_NAME.test(fullName)) {
        skipped.push(
          `tool "${String(tool.name).slice(0, 80)}": "${fullName.slice(0, 100)}" is not a valid model tool name (1 to 64 letters, digits, "_" or "-")`,
        );
        continue;
      }
      if (seen.has(tool.name)) {
        skipped.push(`tool "${tool.name}": listed twice`);
        continue;
      }
      const schema = tool.inputSchema;
      const reason = this.schemaProblem(schema);
      if (reason) {
        skipped.push(`tool "${tool.name}": its input schema ${reason}`);
        continue;
      }
      seen.add(tool.name);
      tools.push({
        name: tool.name,
        description: (tool.description ?? '').slice(0, MAX_DESCRIPTION_CHARS),
        input_schema: schema as Record<string, unknown>,
      });
    }
    return { tools, skipped };
  }

  private schemaProblem(schema: unknown): string | null {
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return 'is not an object';
    if ((schema as Record<string, unknown>).type !== 'object')
      return 'does not describe an object ("type": "object")';
    if (JSON.stringify(schema).length > MAX_SCHEMA_CHARS) return `is over ${MAX_SCHEMA_CHARS} characters`;
    try {
      this.validator(schema as Record<string, unknown>);
    } catch (error) {
      return `does not compile: ${(error as Error).message.slice(0, 300)}`;
    }
    return null;
  }
}
