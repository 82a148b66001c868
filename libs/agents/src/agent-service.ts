// Agent writes (create, new version, delete) and the checks that need the database: tools that exist for the
// agent's owner, names free for that owner. Every write empties the agent cache of every instance.
import { Injectable } from '@nestjs/common';
import { ErrorDetail, NotFoundError, ValidationError } from '@lib/core';
import { ToolRegistry } from '@lib/tools';
import { AGENT_DEFAULTS, AGENT_NAME_PATTERN, StoredAgent } from './agent';
import { StoredDefinition, toStoredDefinition } from './agent-definition-json';
import { AgentRegistry } from './agent-registry';
import { AgentRepository } from './agent-repository';

/** An agent's settings as an author gives them (already checked for shape at the edge). */
export interface AgentInput {
  description: string;
  systemPrompt: string;
  /** Omitted or null: the deployment's default model. */
  model?: string | null;
  temperature?: number;
  maxIterations?: number;
  maxTokens?: number;
  thinkingBudgetTokens?: number | null;
  maxContextTokens?: number | null;
  tools: Array<{ name: string; requiresApproval: boolean }>;
}

/**
 * Which agent a write is about. `undefined`: the one the caller's tenant sees by that name (its own, else the
 * global one); `null`: the global one; a tenant id: that tenant's own.
 */
export type AgentOwnerChoice = string | null | undefined;

/** Who makes a write: the tenant and key recorded with it. */
export interface AgentAuthor {
  tenantId: string;
  apiKeyId: string | null;
}

@Injectable()
export class AgentService {
  constructor(
    private readonly repository: AgentRepository,
    private readonly registry: AgentRegistry,
    private readonly tools: ToolRegistry,
  ) {}

  /** A new agent at version 1 for `owner` (null: every tenant). 400 for unknown tools, 409 for a taken name. */
  async create(
    author: AgentAuthor,
    owner: string | null,
    name: string,
    input: AgentInput,
  ): Promise<StoredAgent> {
    const definition = await this.checkedDefinition(owner, input);
    const agent = await this.repository.insert(owner, name, definition, author.apiKeyId);
    await this.registry.changed(agent.id);
    return agent;
  }

  /** Saves the input as the agent's next version; conversations keep the version they started with. */
  async update(
    author: AgentAuthor,
    owner: AgentOwnerChoice,
    name: string,
    input: AgentInput,
  ): Promise<StoredAgent> {
    const current = await this.target(author.tenantId, owner, name);
    const definition = await this.checkedDefinition(current.tenant, input);
    const saved = await this.repository.addVersion(current.id, definition, author.apiKeyId);
    if (!saved) throw new NotFoundError(`Agent ${name}`);
    await this.registry.changed(saved.id);
    return saved;
  }

  /** Deletes the agent: no new conversation or turn can use it; its conversations stay readable. */
  async remove(author: AgentAuthor, owner: AgentOwnerChoice, name: string): Promise<void> {
    const current = await this.target(author.tenantId, owner, name);
    if (!(await this.repository.softDelete(current.id))) throw new NotFoundError(`Agent ${name}`);
    await this.registry.changed(current.id);
  }

  /** Read from PostgreSQL, not the cache: a write must act on the latest version. */
  private async target(callerTenant: string, owner: AgentOwnerChoice, name: string): Promise<StoredAgent> {
    // A name no agent can have (a NUL byte, say) is nobody's agent: never a query PostgreSQL would refuse.
    if (!AGENT_NAME_PATTERN.test(name)) throw new NotFoundError(`Agent ${name}`);
    const agent =
      owner === undefined
        ? await this.repository.findVisible(callerTenant, name)
        : await this.repository.findOwned(owner, name);
    if (!agent) throw new NotFoundError(`Agent ${name}`);
    return agent;
  }

  private async checkedDefinition(owner: string | null, input: AgentInput): Promise<StoredDefinition> {
    const details: ErrorDetail[] = [];
    const seen = new Set<string>();
    input.tools.forEach((tool, i) => {
      if (seen.has(tool.name)) details.push({ field: `tools[${i}]`, message: `names "${tool.name}" twice` });
      seen.add(tool.name);
    });
    const maxTokens = input.maxTokens ?? AGENT_DEFAULTS.maxTokens;
    if (input.thinkingBudgetTokens != null && input.thinkingBudgetTokens >= maxTokens) {
      details.push({
        field: 'thinking_budget_tokens',
        message: `must be less than max_tokens (${maxTokens})`,
      });
    }
    // A global agent may only name tools every tenant has; a tenant's agent, that tenant's too.
    const { unknown } = await this.tools.resolve(
      input.tools.map((t) => t.name),
      owner,
    );
    for (const name of unknown) {
      const index = input.tools.findIndex((t) => t.name === name);
      details.push({
        field: `tools[${index}]`,
        message:
          owner === null
            ? `no tool "${name}" is available to every tenant (GET /v1/tools lists the tools)`
            : `no tool "${name}" exists for tenant ${owner} (GET /v1/tools lists the tools)`,
      });
    }
    if (details.length) throw new ValidationError('The agent is invalid.', details);
    return toStoredDefinition({
      description: input.description,
      systemPrompt: input.systemPrompt,
      model: input.model ?? '',
      temperature: input.temperature ?? AGENT_DEFAULTS.temperature,
      maxIterations: input.maxIterations ?? AGENT_DEFAULTS.maxIterations,
      maxTokens,
      thinkingBudgetTokens: input.thinkingBudgetTokens ?? null,
      maxContextTokens: input.maxContextTokens ?? null,
      tools: input.tools.map((t) => t.name),
      toolsRequiringApproval: input.tools.filter((t) => t.requiresApproval).map((t) => t.name),
    });
  }
}
