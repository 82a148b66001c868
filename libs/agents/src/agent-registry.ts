// The agents this deployment offers, by name.
import { Injectable } from '@nestjs/common';
import { NotFoundError, ValidationError } from '@lib/core';
import type { AgentDefinition } from './agent';
import { BUILTIN_AGENTS } from './builtin-agents';

export const DEFAULT_AGENT = 'support';

@Injectable()
export class AgentRegistry {
  private readonly agents = new Map<string, AgentDefinition>();

  constructor() {
    for (const agent of BUILTIN_AGENTS) this.register(agent);
  }

  register(agent: AgentDefinition): void {
    if (this.agents.has(agent.name)) throw new Error(`An agent named "${agent.name}" is already registered.`);
    const unknown = (agent.requiresApproval ?? []).filter((name) => !agent.tools.includes(name));
    if (unknown.length) {
      throw new Error(
        `Agent "${agent.name}" requires approval for tools it does not have: ${unknown.join(', ')}.`,
      );
    }
    this.agents.set(
      agent.name,
      Object.freeze({
        ...agent,
        tools: [...agent.tools],
        ...(agent.requiresApproval ? { requiresApproval: [...agent.requiresApproval] } : {}),
      }),
    );
  }

  list(): AgentDefinition[] {
    return [...this.agents.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  has(name: string): boolean {
    return this.agents.has(name);
  }

  names(): string[] {
    return [...this.agents.keys()].sort();
  }

  /** The agent a request names; an unknown name is the caller's mistake (400), not a missing resource. */
  resolve(name: string, field = 'agent_name'): AgentDefinition {
    const agent = this.agents.get(name);
    if (!agent) {
      throw new ValidationError(`Unknown agent "${name}".`, [
        { field, message: `must be one of: ${this.names().join(', ')}` },
      ]);
    }
    return agent;
  }

  /** The agent of a stored conversation; it may have been removed since. */
  get(name: string): AgentDefinition {
    const agent = this.agents.get(name);
    if (!agent) throw new NotFoundError(`Agent ${name}`);
    return agent;
  }
}
