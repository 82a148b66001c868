// The stored form of an agent version (agent_versions.definition): snake_case JSON, as the API shows it, so that
// settings added later are new keys, not migrations.
import type { AgentDefinition } from './agent';
import { AGENT_DEFAULTS } from './agent';

export interface StoredToolRef {
  name: string;
  requires_approval: boolean;
}

export interface StoredDefinition {
  description: string;
  system_prompt: string;
  /** null: the deployment's default model. */
  model: string | null;
  temperature: number;
  max_iterations: number;
  max_tokens: number;
  thinking_budget_tokens: number | null;
  /** A context budget below the model's window; null: the window. */
  max_context_tokens: number | null;
  tools: StoredToolRef[];
}

export function toStoredDefinition(agent: Omit<AgentDefinition, 'name'>): StoredDefinition {
  const approval = new Set(agent.toolsRequiringApproval ?? []);
  return {
    description: agent.description,
    system_prompt: agent.systemPrompt,
    model: agent.model || null,
    temperature: agent.temperature,
    max_iterations: agent.maxIterations,
    max_tokens: agent.maxTokens,
    thinking_budget_tokens: agent.thinkingBudgetTokens ?? null,
    max_context_tokens: agent.maxContextTokens ?? null,
    tools: agent.tools.map((name) => ({ name, requires_approval: approval.has(name) })),
  };
}

/** Reads a stored definition; a key a later version of the software wrote and this one lacks takes its default. */
export function fromStoredDefinition(name: string, stored: Partial<StoredDefinition>): AgentDefinition {
  const tools = (stored.tools ?? []).map((t) =>
    typeof t === 'string' ? { name: t, requires_approval: false } : t,
  );
  return {
    name,
    description: stored.description ?? '',
    systemPrompt: stored.system_prompt ?? '',
    model: stored.model ?? '',
    temperature: stored.temperature ?? AGENT_DEFAULTS.temperature,
    maxIterations: stored.max_iterations ?? AGENT_DEFAULTS.maxIterations,
    maxTokens: stored.max_tokens ?? AGENT_DEFAULTS.maxTokens,
    tools: tools.map((t) => t.name),
    toolsRequiringApproval: tools.filter((t) => t.requires_approval).map((t) => t.name),
    thinkingBudgetTokens: stored.thinking_budget_tokens ?? null,
    maxContextTokens: stored.max_context_tokens ?? null,
  };
}
