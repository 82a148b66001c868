import { Logger } from '@nestjs/common';
import { AppConfig } from '@lib/core';
import { QueryFailedError } from 'typeorm';
import { Tool, ToolContext, ToolError } from './tool';
import { MAX_TOOL_CONTENT_CHARS, ToolRegistry } from './tool-registry';

function registryWith(...tools: Tool<never>[]): ToolRegistry {
  const registry = new ToolRegistry(Object.assign(new AppConfig(), { toolTimeoutMs: 200 }));
  for (const tool of tools) registry.register(tool);
  return registry;
}

function contextWith(overrides: Partial<ToolContext> = {}): ToolContext {
  return {
    tenantId: 'tenant-a',
    conversationId: '7f7c3a52-8d9c-4f37-9a51-0f3a55d2b8a1',
    toolUseId: 'toolu_01',
    signal: new AbortController().signal,
    ...overrides,
  };
}

function tool(overrides: Partial<Tool<never>> & Pick<Tool<never>, 'name'>): Tool<never> {
  return {
    description: `The ${overrides.name} test tool.`,
    inputSchema: { type: 'object', properties: {}, additionalProperties: false },
    execute: async () => 'ok',
    ...overrides,
  };
}

const echo = tool({
  name: 'echo',
  description: 'Echoes its input.',
  inputSchema: {
    type: 'object',
    properties: {
      text: { type: 'string', minLength: 1, maxLength: 20, description: 'What to echo.' },
      times: { type: 'integer', minimum: 1, maximum: 3, description: 'How often.' },
      mode: { type: 'string', enum: ['plain', 'loud'], description: 'How.' },
    },
    required: ['text'],
    additionalProperties: false,
  },
  execute: async (input: { text: string; times?: number }) => ({
    echoed: input.text.repeat(input.times ?? 1),
  }),
});

/** A tool that never settles unless aborted, reporting what its signal saw. */
function hangingTool(name: string, seen: { signal?: AbortSignal }, timeoutMs?: number): Tool<never> {
  return tool({
    name,
    timeoutMs,
    execute: (_input, context) => {
      seen.signal = context.signal;
      return new Promise(() => undefined);
    },
  });
}

describe('ToolRegistry', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  describe('registration and listing', () => {
    it('lists tools as {name, description, input_schema}, sorted by name', () => {
      const registry = registryWith(tool({ name: 'zeta' }), echo, tool({ name: 'alpha' }));
      const list = registry.list();
      expect(list.map((t) => t.name)).toEqual(['alpha', 'echo', 'zeta']);
      expect(list[1]).toEqual({
        name: 'echo',
        description: 'Echoes its input.',
        input_schema: echo.inputSchema,
      });
    });

    it('refuses a second tool with the same name', () => {
      const registry = registryWith(echo);
      expect(() => registry.register(tool({ name: 'echo' }))).toThrow(
        'A tool named "echo" is already registered.',
      );
    });

    it('refuses names the model provider would reject', () => {
      expect(() => registryWith(tool({ name: 'has space' }))).toThrow(/must be 1 to 64 letters/);
    });

    it('refuses an input schema that is not an object schema', () => {
      expect(() => registryWith(tool({ name: 'bad', inputSchema: { type: 'string' } }))).toThrow(
        /must describe an object/,
      );
    });

    it('refuses an invalid JSON schema at registration rather than at the first call', () => {
      expect(() =>
        registryWith(
          tool({ name: 'bad', inputSchema: { type: 'object', properties: { a: { type: 'strng' } } } }),
        ),
      ).toThrow();
    });

    it('answers has() for registered names only', () => {
      const registry = registryWith(echo);
      expect(registry.has('echo')).toBe(true);
      expect(registry.has('nope')).toBe(false);
    });

    it('gives the specs of an agent’s tools in the agent’s order, skipping unknown and repeated names', () => {
      const registry = registryWith(tool({ name: 'a' }), tool({ name: 'b' }), tool({ name: 'c' }));
      expect(registry.specs(['c', 'missing', 'a', 'c']).map((s) => s.name)).toEqual(['c', 'a']);
    });
  });

  describe('catalog and resolve, with another source of tools', () => {
    const remote = (name: string) => ({
      name,
      description: `Remote ${name}.`,
      input_schema: { type: 'object' },
      origin: 'mcp:crm' as const,
    });
    /** Tenant a's server "crm" with two tools; it answers names of the form crm__<tool> and crm__*. */
    const source = {
      list: async (tenantId: string | null) =>
        tenantId === 'tenant-a' ? [remote('crm__find'), remote('crm__update')] : [],
      resolve: async (name: string, tenantId: string | null) => {
        if (!name.startsWith('crm__')) return undefined;
        const tools = await source.list(tenantId);
        return name === 'crm__*' ? tools : tools.filter((t) => t.name === name);
      },
    };

    it('lists built-in tools first with their origin, then the source’s for the tenant', async () => {
      const registry = registryWith(echo);
      registry.addSource(source);
      expect((await registry.catalog('tenant-a')).map((t) => [t.name, t.origin])).toEqual([
        ['echo', 'builtin'],
        ['crm__find', 'mcp:crm'],
        ['crm__update', 'mcp:crm'],
      ]);
      expect((await registry.catalog('tenant-b')).map((t) => t.name)).toEqual(['echo']);
    });

    it('resolves built-in names, source names and patterns, and reports the names nothing stands for', async () => {
      const registry = registryWith(echo, tool({ name: 'alpha' }));
      registry.addSource(source);
      const resolved = await registry.resolve(
        ['alpha', 'crm__*', 'nope', 'crm__find', 'crm__gone'],
        'tenant-a',
      );
      expect(resolved.tools.map((t) => t.name)).toEqual(['alpha', 'crm__find', 'crm__update']);
      expect(resolved.unknown).toEqual(['nope', 'crm__gone']);
      expect((await registry.resolve(['crm__find'], 'tenant-b')).unknown).toEqual(['crm__find']);
      expect(await registry.exists('echo', null)).toBe(true);
      expect(await registry.exists('crm__find', null)).toBe(false);
    });
  });

  describe('execute', () => {
    it('serialises an object result as JSON and measures the duration', async () => {
      const outcome = await registryWith(echo).execute('echo', { text: 'hi', times: 2 }, contextWith());
      expect(outcome).toEqual({
        tool_use_id: 'toolu_01',
        tool_name: 'echo',
        content: '{"echoed":"hihi"}',
        is_error: false,
        duration_ms: expect.any(Number),
      });
      expect(Number.isInteger(outcome.duration_ms)).toBe(true);
    });

    it('passes a string result through as it is', async () => {
      const registry = registryWith(tool({ name: 'greet', execute: async () => 'Hello "you"' }));
      const outcome = await registry.execute('greet', {}, contextWith());
      expect(outcome.content).toBe('Hello "you"');
      expect(outcome.is_error).toBe(false);
    });

    it('reports an undefined result as done', async () => {
      const registry = registryWith(tool({ name: 'noop', execute: async () => undefined }));
      expect((await registry.execute('noop', {}, contextWith())).content).toBe('Done.');
    });

    it('reports a result that cannot be serialised as an error', async () => {
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      const registry = registryWith(tool({ name: 'loop', execute: async () => circular }));
      const outcome = await registry.execute('loop', {}, contextWith());
      expect(outcome.is_error).toBe(true);
      expect(outcome.content).toContain('cannot be represented as JSON');
    });

    it('cuts an oversized result and says so', async () => {
      const registry = registryWith(tool({ name: 'big', execute: async () => 'x'.repeat(50_000) }));
      const outcome = await registry.execute('big', {}, contextWith());
      expect(outcome.is_error).toBe(false);
      expect(outcome.content.startsWith('x'.repeat(MAX_TOOL_CONTENT_CHARS))).toBe(true);
      expect(outcome.content).toContain('[truncated: the result was 50000 characters');
      expect(outcome.content.length).toBeLessThan(MAX_TOOL_CONTENT_CHARS + 200);
    });

    it('answers an unknown tool with an error outcome listing the available tools', async () => {
      const outcome = await registryWith(echo, tool({ name: 'alpha' })).execute('nope', {}, contextWith());
      expect(outcome).toMatchObject({ tool_name: 'nope', tool_use_id: 'toolu_01', is_error: true });
      expect(outcome.content).toBe('Unknown tool "nope". Available tools: alpha, echo.');
    });

    it('refuses a registered tool that the agent was not given', async () => {
      const registry = registryWith(echo, tool({ name: 'alpha' }));
      const outcome = await registry.execute(
        'echo',
        { text: 'hi' },
        contextWith({ allowedTools: ['alpha'] }),
      );
      expect(outcome.is_error).toBe(true);
      expect(outcome.content).toBe('Unknown tool "echo". Available tools: alpha.');
    });

    describe('input validation', () => {
      it('names every problem in one sentence the model can act on, without calling the tool', async () => {
        const execute = jest.fn();
        const registry = registryWith({ ...echo, execute });
        const outcome = await registry.execute(
          'echo',
          { times: 7, mode: 'quiet', colour: 'red' },
          contextWith(),
        );
        expect(execute).not.toHaveBeenCalled();
        expect(outcome.is_error).toBe(true);
        expect(outcome.content).toMatch(/^Invalid input for tool "echo": /);
        expect(outcome.content).toContain('missing required property "text"');
        expect(outcome.content).toContain('unexpected property "colour" (allowed: text, times, mode)');
        expect(outcome.content).toContain('"times" must be <= 3 (got 7)');
        expect(outcome.content).toContain('"mode" must be one of "plain", "loud" (got "quiet")');
        expect(outcome.content).toMatch(/Fix the input and call the tool again\.$/);
      });

      it('does not coerce types: a number is not a string', async () => {
        const outcome = await registryWith(echo).execute('echo', { text: 42 }, contextWith());
        expect(outcome.is_error).toBe(true);
        expect(outcome.content).toContain('"text" must be a string (got 42)');
      });

      it('refuses an input that is not an object', async () => {
        const outcome = await registryWith(echo).execute('echo', 'hi', contextWith());
        expect(outcome.content).toContain('the input must be an object');
      });

      it('reports length limits', async () => {
        const outcome = await registryWith(echo).execute('echo', { text: '' }, contextWith());
        expect(outcome.content).toContain('"text" must NOT have fewer than 1 characters');
      });
    });

    describe('failures', () => {
      it('passes a ToolError message through as it is', async () => {
        const registry = registryWith(
          tool({
            name: 'lookup',
            execute: async () => {
              throw new ToolError('No order with number 9999.');
            },
          }),
        );
        const outcome = await registry.execute('lookup', {}, contextWith());
        expect(outcome).toMatchObject({ is_error: true, content: 'No order with number 9999.' });
        expect(warn).not.toHaveBeenCalled();
      });

      it('reports another error by its message, without the stack trace', async () => {
        const error = new Error('the upstream said no');
        error.message += '\n    at somewhere (/app/secret.ts:1:1)';
        const registry = registryWith(
          tool({
            name: 'flaky',
            execute: async () => {
              throw error;
            },
          }),
        );
        const outcome = await registry.execute('flaky', {}, contextWith());
        expect(outcome.is_error).toBe(true);
        expect(outcome.content).toBe('Tool "flaky" failed: the upstream said no');
      });

      it('catches a tool that throws synchronously', async () => {
        const registry = registryWith(
          tool({
            name: 'sync',
            execute: () => {
              throw new Error('sync boom');
            },
          }),
        );
        const outcome = await registry.execute('sync', {}, contextWith());
        expect(outcome).toMatchObject({ is_error: true, content: 'Tool "sync" failed: sync boom' });
      });

      it('reports a non-Error throw', async () => {
        const registry = registryWith(
          tool({
            name: 'odd',
            execute: async () => {
              throw 'plain string';
            },
          }),
        );
        expect((await registry.execute('odd', {}, contextWith())).content).toBe(
          'Tool "odd" failed: plain string',
        );
      });

      it('never shows SQL from a database error', async () => {
        const sql = 'SELECT secret FROM internal_table WHERE x = $1';
        const registry = registryWith(
          tool({
            name: 'db',
            execute: async () => {
              throw new QueryFailedError(sql, ['x'], new Error('relation "internal_table" does not exist'));
            },
          }),
        );
        const outcome = await registry.execute('db', {}, contextWith());
        expect(outcome.is_error).toBe(true);
        expect(outcome.content).toBe(
          'Tool "db" failed because of a database error; try again later or continue without it.',
        );
        expect(outcome.content).not.toContain('internal_table');
        expect(warn).toHaveBeenCalledWith(
          expect.stringContaining('relation "internal_table" does not exist'),
        );
      });
    });

    describe('timeouts and cancellation', () => {
      it('times out after the registry default and aborts the tool’s signal', async () => {
        const seen: { signal?: AbortSignal } = {};
        const registry = registryWith(hangingTool('slow', seen));
        const outcome = await registry.execute('slow', {}, contextWith());
        expect(outcome.is_error).toBe(true);
        expect(outcome.content).toContain('Tool "slow" timed out after 200 ms');
        expect(outcome.duration_ms).toBeGreaterThanOrEqual(190);
        expect(seen.signal?.aborted).toBe(true);
      });

      it('uses the tool’s own timeout when it sets one', async () => {
        const seen: { signal?: AbortSignal } = {};
        const registry = registryWith(hangingTool('quick', seen, 20));
        const outcome = await registry.execute('quick', {}, contextWith());
        expect(outcome.content).toContain('timed out after 20 ms');
        expect(outcome.duration_ms).toBeLessThan(190);
      });

      it('gives the tool a signal of its own, not the caller’s', async () => {
        const seen: { signal?: AbortSignal } = {};
        const caller = new AbortController();
        const registry = registryWith(hangingTool('slow', seen, 20));
        await registry.execute('slow', {}, contextWith({ signal: caller.signal }));
        expect(seen.signal).not.toBe(caller.signal);
        expect(seen.signal?.aborted).toBe(true);
        expect(caller.signal.aborted).toBe(false);
      });

      it('answers "cancelled" as soon as the caller aborts, and aborts the tool', async () => {
        const seen: { signal?: AbortSignal } = {};
        const caller = new AbortController();
        const registry = registryWith(hangingTool('slow', seen, 10_000));
        const pending = registry.execute('slow', {}, contextWith({ signal: caller.signal }));
        setTimeout(() => caller.abort(), 10);
        const outcome = await pending;
        expect(outcome.is_error).toBe(true);
        expect(outcome.content).toContain('cancelled');
        expect(outcome.duration_ms).toBeLessThan(1000);
        expect(seen.signal?.aborted).toBe(true);
      });

      it('does not start a tool when the caller has already aborted', async () => {
        const execute = jest.fn();
        const caller = new AbortController();
        caller.abort();
        const outcome = await registryWith(tool({ name: 't', execute })).execute(
          't',
          {},
          contextWith({ signal: caller.signal }),
        );
        expect(execute).not.toHaveBeenCalled();
        expect(outcome).toMatchObject({ is_error: true, content: expect.stringContaining('cancelled') });
      });

      it('ignores a late failure of a tool that already timed out', async () => {
        const registry = registryWith(
          tool({
            name: 'late',
            timeoutMs: 10,
            execute: () =>
              new Promise((_resolve, reject) => setTimeout(() => reject(new Error('too late')), 30)),
          }),
        );
        const outcome = await registry.execute('late', {}, contextWith());
        expect(outcome.content).toContain('timed out after 10 ms');
        // The rejection lands after the outcome; an unhandled rejection would fail the test run.
        await new Promise((resolve) => setTimeout(resolve, 40));
      });
    });
  });
});
