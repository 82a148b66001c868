// The agents a tenant can use, read from PostgreSQL through a per-instance cache that every agent write empties on
// every instance (Redis pub/sub), so a turn costs no agent query in the common case.
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AppConfig, NotFoundError, RedisService, RedisSubscriber, ValidationError } from '@lib/core';
import { AGENT_NAME_PATTERN, AgentPin, StoredAgent } from './agent';
import { AgentCache } from './agent-cache';
import { AgentRepository } from './agent-repository';

export const DEFAULT_AGENT = 'support';

/** Every agent write is published here; each instance empties its agent cache on it. */
export const AGENTS_CHANGED_CHANNEL = 'agents:changed';

const MAX_CACHED_LOOKUPS = 10_000;
/** An unknown agent_name's error names the tenant's agents, up to this many (GET /v1/agents lists them all). */
const MAX_NAMES_IN_ERROR = 20;

@Injectable()
export class AgentRegistry implements OnModuleInit {
  private readonly logger = new Logger('Agents');
  private readonly cache: AgentCache;

  constructor(
    private readonly repository: AgentRepository,
    private readonly redis: RedisService,
    private readonly subscriber: RedisSubscriber,
    config: AppConfig,
  ) {
    this.cache = new AgentCache(config.agentCacheTtlMs, MAX_CACHED_LOOKUPS);
  }

  onModuleInit(): void {
    // Not awaited: a Redis that is down must not stop the process from starting; the TTL bounds staleness meanwhile.
    this.subscriber
      .subscribe(AGENTS_CHANGED_CHANNEL, () => this.cache.clear())
      .catch((error: Error) =>
        this.logger.warn(
          `Could not subscribe to agent changes (AGENT_CACHE_TTL_MS still applies): ${error.message}`,
        ),
      );
  }

  /** The current version of the agent the tenant sees by that name (its own, else the global one), or null. */
  async find(tenantId: string, name: string): Promise<StoredAgent | null> {
    // No agent can have such a name: neither the database nor the cache is asked (random names would churn it).
    if (!AGENT_NAME_PATTERN.test(name)) return null;
    return this.cache.getOrLoad(`visible\0${tenantId}\0${name}`, () =>
      this.repository.findVisible(tenantId, name),
    );
  }

  /** Every agent the tenant can use, sorted by name. */
  list(tenantId: string): Promise<StoredAgent[]> {
    return this.cache.getOrLoad(`list\0${tenantId}`, () => this.repository.listVisible(tenantId));
  }

  /** The agent a request names; an unknown name is the caller's mistake (400), not a missing resource. */
  async resolve(tenantId: string, name: string, field = 'agent_name'): Promise<StoredAgent> {
    const agent = await this.find(tenantId, name);
    if (agent) return agent;
    const names = (await this.list(tenantId)).map((a) => a.name);
    const shown = names.length > MAX_NAMES_IN_ERROR ? [...names.slice(0, MAX_NAMES_IN_ERROR), '…'] : names;
    throw new ValidationError(`Unknown agent "${name}".`, [
      {
        field,
        message: names.length
          ? `must be one of: ${shown.join(', ')}`
          : 'no agent is defined (see GET /v1/agents)',
      },
    ]);
  }

  /** The agent a path names (`/v1/agents/{name}`): NotFoundError when the tenant sees none by that name. */
  async get(tenantId: string, name: string): Promise<StoredAgent> {
    const agent = await this.find(tenantId, name);
    if (!agent) throw new NotFoundError(`Agent ${name}`);
    return agent;
  }

  /**
   * The version a conversation or a task started with. Without a pin (rows older than stored agents), the agent's
   * current version. NotFoundError when the agent has been deleted since, or is not one the tenant may use.
   */
  async pinned(tenantId: string, pin: AgentPin | null, name: string): Promise<StoredAgent> {
    if (!pin) return this.get(tenantId, name);
    const found = await this.cache.getOrLoad(`version\0${pin.agentId}\0${pin.version}`, () =>
      this.repository.findVersion(pin.agentId, pin.version),
    );
    if (!found || found.deleted || (found.agent.tenant !== null && found.agent.tenant !== tenantId)) {
      throw new NotFoundError(`Agent ${name}`);
    }
    return found.agent;
  }

  /** Called after every agent write: this instance forgets at once, the others when the message reaches them. */
  async changed(agentId: string): Promise<void> {
    this.cache.clear();
    await this.redis.client.publish(AGENTS_CHANGED_CHANNEL, agentId).catch((error: Error) => {
      this.logger.warn(
        `Could not publish an agent change; other instances see it within AGENT_CACHE_TTL_MS: ${error.message}`,
      );
    });
  }
}
