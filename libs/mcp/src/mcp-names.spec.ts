import { mcpToolName, parseMcpToolName } from './mcp-names';

describe('MCP tool names', () => {
  it('splits <server>__<tool> at the first "__"', () => {
    expect(parseMcpToolName('crm__lookup_customer')).toEqual({ server: 'crm', tool: 'lookup_customer' });
    expect(parseMcpToolName('crm__a__b')).toEqual({ server: 'crm', tool: 'a__b' });
    expect(mcpToolName('crm', 'lookup')).toBe('crm__lookup');
  });

  it('reads <server>__* as every tool of the server', () => {
    expect(parseMcpToolName('crm__*')).toEqual({ server: 'crm', all: true });
  });

  it('is not an MCP name without a valid server part or tool part', () => {
    for (const name of ['lookup_order', '__x', 'Crm__x', 'crm__', 'crm__a.b', `crm__${'x'.repeat(64)}`]) {
      expect(parseMcpToolName(name)).toBeNull();
    }
  });
});
