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
   * Extended thinking: the model may reason in up to this many tokens (at least 1,024) before each answer, on top
   * of `maxTokens`. Omitted or null: no thinking.
   */
  thinkingBudgetTokens?: number | null;
}
