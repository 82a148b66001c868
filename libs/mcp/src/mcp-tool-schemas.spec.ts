import { McpSchemaCompiler } from './mcp-tool-schemas';

describe('McpSchemaCompiler', () => {
  const compiler = new McpSchemaCompiler();

  it('keeps tools with a usable object schema and says why each other one is left out', () => {
    const { tools, skipped } = compiler.usable('crm', [
      {
        name: 'ok',
        description: 'Fine.',
        inputSchema: { type: 'object', properties: { a: { type: 'string' } } },
      },
      {
        name: 'draft07',
        inputSchema: {
          $schema: 'http://json-schema.org/draft-07/schema#',
          type: 'object',
          properties: { n: { type: 'integer' } },
        },
      },
      { name: 'broken', inputSchema: { type: 'object', properties: { a: { type: 'nope' } } } },
      { name: 'not_object', inputSchema: { type: 'string' } },
      { name: 'dotted.name', inputSchema: { type: 'object' } },
      { name: 'ok', inputSchema: { type: 'object' } },
    ]);
    expect(tools.map((tool) => tool.name)).toEqual(['ok', 'draft07']);
    expect(skipped).toHaveLength(4);
    expect(skipped.join('\n')).toMatch(/broken.*does not compile/);
    expect(skipped.join('\n')).toMatch(/not_object.*"type": "object"/);
    expect(skipped.join('\n')).toMatch(/dotted\.name.*not a valid model tool name/);
    expect(skipped.join('\n')).toMatch(/"ok": listed twice/);
  });

  it('validates input strictly: no coercion', () => {
    const schema = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] };
    expect(compiler.problems(schema, { n: 3 })).toEqual([]);
    expect(compiler.problems(schema, { n: '3' })).not.toEqual([]);
    expect(compiler.problems(schema, {})).not.toEqual([]);
  });
});
