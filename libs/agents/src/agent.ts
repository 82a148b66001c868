// An agent is a definition, not code: its prompt, model, limits and the tools it may use.
export interface AgentDefinition {
  name: string;
  description: string;
  systemPrompt: string;
  /** Empty means the deployment's default model (ANTHROPIC_MODEL). */
  model: string;
  temperature: number;
  maxIterations: number;
  maxTokens: number;
  tools: string[];
  /**
   * The operator's approvals: calls of these tools (a subset of `tools`) wait for a person's decision before they
   * run (the contract's `tools: [{name, requires_approval: true}]`). Omitted: none.
   */
  requiresApproval?: string[];
}

/** The tools whose calls wait for a decision in a conversation of `agent` that added `conversationTools`. */
export function toolsRequiringApproval(
  agent: Pick<AgentDefinition, 'requiresApproval'>,
  conversationTools: readonly string[] = [],
): string[] {
  return [...new Set([...(agent.requiresApproval ?? []), ...conversationTools])].sort();
}
