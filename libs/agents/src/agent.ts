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
  /** The names of the tools the model is offered, in the agent's order. */
  tools: string[];
  /** Of `tools`, the ones whose every call waits for a person's approval. */
  toolsRequiringApproval?: string[];
  /** The extended-thinking budget of each model call; null or absent: no extended thinking. */
  thinkingBudgetTokens?: number | null;
  /** A context budget in tokens below the model's window, for every conversation of the agent (optional). */
  maxContextTokens?: number | null;
}

/**
 * The tools whose calls wait for a person's decision in a conversation of `agent` that added `conversationTools`:
 * the agent's operator's and the conversation's (a conversation can add approvals, never remove any).
 */
export function approvalTools(
  agent: Pick<AgentDefinition, 'toolsRequiringApproval'>,
  conversationTools: readonly string[] = [],
): string[] {
  return [...new Set([...(agent.toolsRequiringApproval ?? []), ...conversationTools])].sort();
}

/** One version of a stored agent: its definition as it was saved, and whose agent it is. */
export interface StoredAgent extends AgentDefinition {
  id: string;
  /** The tenant the agent belongs to; null: every tenant's (a global agent). */
  tenant: string | null;
  version: number;
  /** When the agent was first created, and when this version was saved. */
  createdAt: Date;
  updatedAt: Date;
}

/** The version of an agent a conversation or a task started with. */
export interface AgentPin {
  agentId: string;
  version: number;
}

/** An agent's name: what clients send as `agent_name` and what the MCP server lists as a tool name. */
export const AGENT_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;
export const AGENT_LIMITS = {
  descriptionChars: 1_000,
  systemPromptChars: 100_000,
  tools: 64,
  maxIterations: 25,
  maxTokens: 64_000,
  minThinkingBudgetTokens: 1_024,
} as const;

/** What an agent gets for the settings its author leaves out. */
export const AGENT_DEFAULTS = {
  temperature: 1,
  maxIterations: 6,
  maxTokens: 2_048,
} as const;
