import { callMeta, resultText } from './mcp-tool-source';

describe('MCP tool calls', () => {
  const context = {
    tenantId: 'acme',
    conversationId: 'c1',
    toolUseId: 'toolu_1',
    signal: new AbortController().signal,
  };

  it('passes the tenant and an idempotency key in _meta', () => {
    expect(callMeta(context)).toEqual({
      tenant_id: 'acme',
      conversation_id: 'c1',
      idempotency_key: 'c1:toolu_1',
    });
    expect(callMeta({ ...context, taskId: 't1' }).idempotency_key).toBe('t1:toolu_1');
    expect(callMeta({ ...context, idempotencyKey: 'run-1:toolu_1' }).idempotency_key).toBe('run-1:toolu_1');
  });

  it('reads a result as text: text blocks, what cannot be text named, structured content when nothing else', () => {
    expect(
      resultText({
        content: [
          { type: 'text', text: 'one' },
          { type: 'image', data: 'AAAA', mimeType: 'image/png' },
          { type: 'resource', resource: { uri: 'file:///a', text: 'two' } },
        ],
      }),
    ).toBe('one\n[image image/png]\ntwo');
    expect(resultText({ content: [], structuredContent: { a: 1 } })).toBe('{"a":1}');
    expect(resultText({ content: [] })).toBe('');
  });
});
