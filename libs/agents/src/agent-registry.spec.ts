import { toolsRequiringApproval } from './agent';
import { AgentRegistry } from './agent-registry';

const agent = {
  name: 'guarded',
  description: 'Test.',
  systemPrompt: 'Test.',
  model: '',
  temperature: 0,
  maxIterations: 2,
  maxTokens: 64,
  tools: ['lookup_order', 'create_support_ticket'],
};

describe('agents that require approval', () => {
  it('requires no approval of the built-in agents', () => {
    for (const builtin of new AgentRegistry().list()) expect(toolsRequiringApproval(builtin)).toEqual([]);
  });

  it("adds a conversation's tools to the operator's, never removes any", () => {
    const guarded = { ...agent, requiresApproval: ['create_support_ticket'] };
    expect(toolsRequiringApproval(guarded)).toEqual(['create_support_ticket']);
    expect(toolsRequiringApproval(guarded, ['lookup_order', 'create_support_ticket'])).toEqual([
      'create_support_ticket',
      'lookup_order',
    ]);
    expect(toolsRequiringApproval(guarded, [])).toEqual(['create_support_ticket']);
  });

  it('refuses an agent that requires approval for a tool it does not have', () => {
    const registry = new AgentRegistry();
    expect(() => registry.register({ ...agent, requiresApproval: ['get_pricing'] })).toThrow(
      'Agent "guarded" requires approval for tools it does not have: get_pricing.',
    );
    registry.register({ ...agent, requiresApproval: ['lookup_order'] });
    expect(registry.get('guarded').requiresApproval).toEqual(['lookup_order']);
  });
});
