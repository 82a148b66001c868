// The tools this deployment offers, and the one way to run them: validated, time-limited, never throwing.
import { Injectable, Logger } from '@nestjs/common';
import Ajv2020, { ErrorObject, ValidateFunction } from 'ajv/dist/2020';
import { QueryFailedError } from 'typeorm';
import { AppConfig } from '@lib/core';
import {
  ResolvedTools,
  Tool,
  ToolCatalogEntry,
  ToolContext,
  ToolError,
  ToolOutcome,
  ToolSource,
  ToolSpec,
} from './tool';

/** Results longer than this are cut: one runaway tool must not fill the model's context window. */
export const MAX_TOOL_CONTENT_CHARS = 16_000;

// Anthropic's rule for tool names; refusing others at registration beats a 400 from the provider mid-turn.
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

interface RegisteredTool {
  tool: Tool<unknown>;
  validate: ValidateFunction;
}

class ToolTimeoutError extends ToolError {
  constructor(toolName: string, timeoutMs: number) {
    super(
      `Tool "${toolName}" timed out after ${timeoutMs} ms; try again with a simpler request or continue without it.`,
    );
  }
}

class ToolCancelledError extends ToolError {
  constructor(toolName: string) {
    super(`Tool "${toolName}" was cancelled: the turn was cancelled before it finished.`);
  }
}

@Injectable()
export class ToolRegistry {
  private readonly logger = new Logger(ToolRegistry.name);
  private readonly tools = new Map<string, RegisteredTool>();
  private readonly sources: ToolSource[] = [];
  // No coercion and no defaults: the tool receives exactly what the model sent, or nothing at all.
  private readonly ajv = new Ajv2020({ allErrors: true, strict: true, coerceTypes: false, verbose: true });

  constructor(private readonly config: AppConfig) {}

  register<Input>(tool: Tool<Input>): void {
    if (!TOOL_NAME.test(tool.name)) {
      throw new Error(`Tool name "${tool.name}" must be 1 to 64 letters, digits, "_" or "-".`);
    }
    if (this.tools.has(tool.name)) throw new Error(`A tool named "${tool.name}" is already registered.`);
    if (tool.inputSchema.type !== 'object') {
      throw new Error(`The input schema of tool "${tool.name}" must describe an object ("type": "object").`);
    }
    if (tool.timeoutMs !== undefined && !(tool.timeoutMs > 0)) {
      throw new Error(`The timeout of tool "${tool.name}" must be a positive number of milliseconds.`);
    }
    const validate = this.ajv.compile(tool.inputSchema);
    this.tools.set(tool.name, { tool: tool as Tool<unknown>, validate });
  }

  has(name: string): boolean {
    return this.tools.has(name);
  }

  /** False for a tool that declared itself not safe to run twice (an unknown name is harmless: true). */
  isIdempotent(name: string): boolean {
    return this.tools.get(name)?.tool.idempotent !== false;
  }

  /** Adds tools from elsewhere (an MCP server's): they are listed and resolved per tenant. */
  addSource(source: ToolSource): void {
    this.sources.push(source);
  }

  /** Every tool the tenant can use, built-in ones first, each with its origin: what `GET /v1/tools` shows. */
  async catalog(tenantId: string | null): Promise<ToolCatalogEntry[]> {
    const builtin = this.list().map((spec) => ({ ...spec, origin: 'builtin' as const }));
    const others = await Promise.all(this.sources.map((source) => source.list(tenantId)));
    return [...builtin, ...others.flat()];
  }

  /**
   * What the names an agent gives stand for, for the tenant (null: a global agent, which may only name tools every
   * tenant can use): a built-in tool by its name, else whatever a source
   * answers (an MCP tool, or a pattern naming several). `unknown` lists the names nothing stands for, in order.
   */
  async resolve(names: readonly string[], tenantId: string | null): Promise<ResolvedTools> {
    const tools: ToolCatalogEntry[] = [];
    const unknown: string[] = [];
    const seen = new Set<string>();
    for (const name of names) {
      const found = await this.resolveOne(name, tenantId);
      if (!found) {
        unknown.push(name);
        continue;
      }
      for (const tool of found) {
        if (seen.has(tool.name)) continue;
        seen.add(tool.name);
        tools.push(tool);
      }
    }
    return { tools, unknown };
  }

  /** True when the name stands for at least one tool the tenant can use. */
  async exists(name: string, tenantId: string | null): Promise<boolean> {
    return (await this.resolveOne(name, tenantId)) !== undefined;
  }

  private async resolveOne(name: string, tenantId: string | null): Promise<ToolCatalogEntry[] | undefined> {
    const entry = this.tools.get(name);
    if (entry) return [{ ...this.spec(entry.tool), origin: 'builtin' }];
    for (const source of this.sources) {
      const found = await source.resolve(name, tenantId);
      if (found?.length) return found;
    }
    return undefined;
  }

  /** Every tool, sorted by name: what `GET /v1/tools` shows. */
  list(): ToolSpec[] {
    return [...this.tools.keys()].sort().map((name) => this.spec(this.tools.get(name)!.tool));
  }

  /**
   * The specs of the named tools, in the order given, for a model call. Names that are not registered
   * are left out: an agent configured with a tool this deployment lacks still runs with the rest.
   */
  specs(names: readonly string[]): ToolSpec[] {
    const seen = new Set<string>();
    const specs: ToolSpec[] = [];
    for (const name of names) {
      const entry = this.tools.get(name);
      if (!entry || seen.has(name)) continue;
      seen.add(name);
      specs.push(this.spec(entry.tool));
    }
    return specs;
  }

  /** Runs one tool call. Every failure becomes an `is_error` outcome the model can read and act on. */
  async execute(name: string, input: unknown, context: ToolContext): Promise<ToolOutcome> {
    const started = performance.now();
    const outcome = (content: string, isError: boolean): ToolOutcome => ({
      tool_use_id: context.toolUseId,
      tool_name: name,
      content: capContent(content),
      is_error: isError,
      duration_ms: Math.round(performance.now() - started),
    });

    const entry = this.tools.get(name);
    if (!entry || (context.allowedTools && !context.allowedTools.includes(name))) {
      return outcome(this.unknownToolMessage(name, context.allowedTools), true);
    }
    if (!entry.validate(input)) {
      return outcome(describeValidationErrors(entry.tool, entry.validate.errors ?? []), true);
    }
    if (context.signal.aborted) return outcome(new ToolCancelledError(name).message, true);

    let result: unknown;
    try {
      result = await this.runWithLimits(entry.tool, input, context);
    } catch (error) {
      return outcome(this.describeFailure(name, error), true);
    }
    const serialised = serialiseResult(result);
    return serialised === undefined
      ? outcome(`Tool "${name}" returned a result that cannot be represented as JSON.`, true)
      : outcome(serialised, false);
  }

  private spec(tool: Tool<unknown>): ToolSpec {
    return { name: tool.name, description: tool.description, input_schema: tool.inputSchema };
  }

  /**
   * Races the tool against its timeout and the caller's cancellation. The tool gets its own signal
   * (aborted on either) so it can stop work nobody waits for any more; its late result is dropped.
   */
  private runWithLimits(tool: Tool<unknown>, input: unknown, context: ToolContext): Promise<unknown> {
    const timeoutMs = tool.timeoutMs ?? this.config.toolTimeoutMs;
    const controller = new AbortController();
    return new Promise<unknown>((resolve, reject) => {
      const onCallerAbort = (): void => {
        const error = new ToolCancelledError(tool.name);
        controller.abort(error);
        cleanUp();
        reject(error);
      };
      const timer = setTimeout(() => {
        const error = new ToolTimeoutError(tool.name, timeoutMs);
        controller.abort(error);
        cleanUp();
        reject(error);
      }, timeoutMs);
      const cleanUp = (): void => {
        clearTimeout(timer);
        context.signal.removeEventListener('abort', onCallerAbort);
      };
      context.signal.addEventListener('abort', onCallerAbort, { once: true });

      let running: Promise<unknown>;
      try {
        running = Promise.resolve(tool.execute(input, { ...context, signal: controller.signal }));
      } catch (error) {
        running = Promise.reject(error);
      }
      running.then(
        (value) => {
          cleanUp();
          resolve(value);
        },
        (error: unknown) => {
          cleanUp();
          reject(error);
        },
      );
    });
  }

  private unknownToolMessage(name: string, allowed: readonly string[] | undefined): string {
    const available = [...this.tools.keys()].filter((n) => !allowed || allowed.includes(n)).sort();
    return `Unknown tool "${name}". Available tools: ${available.length ? available.join(', ') : 'none'}.`;
  }

  /** The model sees a sentence, never a stack trace or SQL; the log keeps the whole error. */
  private describeFailure(name: string, error: unknown): string {
    if (error instanceof ToolError) return error.message;
    this.logger.warn(
      `Tool "${name}" failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    if (isDatabaseError(error)) {
      return `Tool "${name}" failed because of a database error; try again later or continue without it.`;
    }
    if (error instanceof Error) {
      const message = withoutStackLines(error.message);
      return message ? `Tool "${name}" failed: ${message}` : `Tool "${name}" failed (${error.name}).`;
    }
    return `Tool "${name}" failed: ${truncate(withoutStackLines(String(error)), 1000)}`;
  }
}

function isDatabaseError(error: unknown): boolean {
  if (error instanceof QueryFailedError) return true;
  // pg's own DatabaseError (outside TypeORM's wrapper) carries the SQLSTATE and the failing position.
  return (
    error instanceof Error &&
    (error.name === 'DatabaseError' || ('query' in error && 'parameters' in error) || 'sqlState' in error)
  );
}

function withoutStackLines(message: string): string {
  return truncate(
    message
      .split('\n')
      .filter((line) => !/^\s+at\s/.test(line))
      .join('\n')
      .trim(),
    1000,
  );
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function serialiseResult(result: unknown): string | undefined {
  if (typeof result === 'string') return result;
  if (result === undefined) return 'Done.';
  try {
    return JSON.stringify(result);
  } catch {
    // Circular structures and BigInts: the caller turns this into an error outcome.
    return undefined;
  }
}

function capContent(content: string): string {
  if (content.length <= MAX_TOOL_CONTENT_CHARS) return content;
  let end = MAX_TOOL_CONTENT_CHARS;
  // Do not split a surrogate pair: half an emoji is not valid UTF-8 on the wire.
  const code = content.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return (
    `${content.slice(0, end)}\n[truncated: the result was ${content.length} characters; ` +
    `only the first ${end} are shown. Ask for less, e.g. with a narrower query or a lower limit.]`
  );
}

/** One sentence naming every problem, so the model can fix its input in a single retry. */
export function describeValidationErrors(tool: Tool<unknown>, errors: readonly ErrorObject[]): string {
  const problems = [...new Set(errors.map((e) => describeValidationError(tool, e)))];
  return `Invalid input for tool "${tool.name}": ${problems.join('; ')}. Fix the input and call the tool again.`;
}

function describeValidationError(tool: Tool<unknown>, error: ErrorObject): string {
  const field = fieldName(error.instancePath);
  const subject = field ? `"${field}"` : 'the input';
  const got = describeValue(error.data);
  switch (error.keyword) {
    case 'required':
      return `missing required property "${joinField(field, String(error.params.missingProperty))}"`;
    case 'additionalProperties': {
      const allowed = Object.keys((tool.inputSchema.properties as Record<string, unknown> | undefined) ?? {});
      const unexpected = `unexpected property "${joinField(field, String(error.params.additionalProperty))}"`;
      return field || !allowed.length ? unexpected : `${unexpected} (allowed: ${allowed.join(', ')})`;
    }
    case 'type':
      return `${subject} must be ${article(String(error.params.type))}${got}`;
    case 'enum':
      return `${subject} must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}${got}`;
    case 'const':
      return `${subject} must be ${JSON.stringify(error.params.allowedValue)}${got}`;
    default:
      return `${subject} ${error.message ?? 'is invalid'}${got}`;
  }
}

function fieldName(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function joinField(parent: string, child: string): string {
  return parent ? `${parent}.${child}` : child;
}

function article(type: string): string {
  const names: Record<string, string> = {
    object: 'an object',
    array: 'an array',
    integer: 'an integer',
    string: 'a string',
    number: 'a number',
    boolean: 'a boolean (true or false)',
    null: 'null',
  };
  return type
    .split(',')
    .map((t) => names[t] ?? t)
    .join(' or ');
}

// Short scalar values are echoed so the model sees what it sent; long ones would just repeat its input.
function describeValue(value: unknown): string {
  if (typeof value === 'string') return value.length <= 60 ? ` (got ${JSON.stringify(value)})` : '';
  if (typeof value === 'number' || typeof value === 'boolean' || value === null)
    return ` (got ${String(value)})`;
  return '';
}
