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
  /** A context budget in tokens below the model's window, for every conversation of the agent (optional). */
  maxContextTokens?: number | null;
}
