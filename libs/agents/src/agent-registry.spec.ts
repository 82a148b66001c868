import { AgentRegistry } from './agent-registry';
import type { AgentDefinition } from './agent';

const agent = (overrides: Partial<AgentDefinition>): AgentDefinition => ({
  name: 'thinker',
  description: 'Test.',
  systemPrompt: 'Test.',
  model: '',
  temperature: 0,
  maxIterations: 3,
  maxTokens: 512,
  tools: [],
  ...overrides,
});

describe('AgentRegistry thinking budgets', () => {
  it('registers an agent with a thinking budget of 1,024 tokens or more, or none', () => {
    const registry = new AgentRegistry();
    registry.register(agent({ thinkingBudgetTokens: 1024 }));
    registry.register(agent({ name: 'plain', thinkingBudgetTokens: null }));
    expect(registry.get('thinker').thinkingBudgetTokens).toBe(1024);
  });

  it.each([1023, 0.5, -1])('refuses a thinking budget the provider would refuse (%p)', (budget) => {
    expect(() => new AgentRegistry().register(agent({ thinkingBudgetTokens: budget }))).toThrow(
      /1024 or more/,
    );
  });
});
