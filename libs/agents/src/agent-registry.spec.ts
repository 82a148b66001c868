import { Logger } from '@nestjs/common';
import { AppConfig, NotFoundError, RedisService, RedisSubscriber, ValidationError } from '@lib/core';
import type { StoredAgent } from './agent';
import { AGENTS_CHANGED_CHANNEL, AgentRegistry } from './agent-registry';
import type { AgentRepository } from './agent-repository';

function agent(overrides: Partial<StoredAgent> = {}): StoredAgent {
  return {
    id: 'a1',
    tenant: null,
    version: 1,
    name: 'support',
    description: 'd',
    systemPrompt: 'p',
    model: '',
    temperature: 1,
    maxIterations: 6,
    maxTokens: 2048,
    tools: [],
    createdAt: new Date(0),
    updatedAt: new Date(0),
    ...overrides,
  };
}

describe('AgentRegistry', () => {
  let repository: jest.Mocked<
    Pick<AgentRepository, 'findVisible' | 'listVisible' | 'findVersion' | 'findOwned'>
  >;
  let handlers: Map<string, (message: string) => void>;
  let published: Array<[string, string]>;
  let registry: AgentRegistry;

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    repository = {
      findVisible: jest.fn().mockResolvedValue(agent()),
      listVisible: jest.fn().mockResolvedValue([agent()]),
      findVersion: jest.fn().mockResolvedValue({ agent: agent(), deleted: false }),
      findOwned: jest.fn(),
    };
    handlers = new Map();
    published = [];
    const subscriber = {
      subscribe: async (channel: string, handler: (m: string) => void) => void handlers.set(channel, handler),
    } as unknown as RedisSubscriber;
    const redis = {
      client: {
        publish: async (channel: string, message: string) => void published.push([channel, message]),
      },
    } as unknown as RedisService;
    registry = new AgentRegistry(
      repository as unknown as AgentRepository,
      redis,
      subscriber,
      Object.assign(new AppConfig(), { agentCacheTtlMs: 60_000 }),
    );
    registry.onModuleInit();
  });

  afterEach(() => jest.restoreAllMocks());

  it('asks PostgreSQL once for repeated lookups of the same agent', async () => {
    await registry.resolve('t1', 'support');
    await registry.resolve('t1', 'support');
    await registry.pinned('t1', { agentId: 'a1', version: 1 }, 'support');
    await registry.pinned('t1', { agentId: 'a1', version: 1 }, 'support');
    expect(repository.findVisible).toHaveBeenCalledTimes(1);
    expect(repository.findVersion).toHaveBeenCalledTimes(1);
  });

  it('forgets what it cached when another instance publishes a change', async () => {
    await registry.find('t1', 'support');
    handlers.get(AGENTS_CHANGED_CHANNEL)!('a1');
    await registry.find('t1', 'support');
    expect(repository.findVisible).toHaveBeenCalledTimes(2);
  });

  it('forgets at once and publishes when a write happens here', async () => {
    await registry.list('t1');
    await registry.changed('a1');
    await registry.list('t1');
    expect(repository.listVisible).toHaveBeenCalledTimes(2);
    expect(published).toEqual([[AGENTS_CHANGED_CHANNEL, 'a1']]);
  });

  it('answers an unknown agent_name with 400 naming the agents the tenant has', async () => {
    repository.findVisible.mockResolvedValue(null);
    const error = await registry.resolve('t1', 'ghost').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).details).toEqual([
      { field: 'agent_name', message: 'must be one of: support' },
    ]);
  });

  it('refuses a pinned version of a deleted agent, or of another tenant’s agent, as not found', async () => {
    repository.findVersion.mockResolvedValueOnce({ agent: agent(), deleted: true });
    await expect(registry.pinned('t1', { agentId: 'a1', version: 1 }, 'support')).rejects.toBeInstanceOf(
      NotFoundError,
    );
    repository.findVersion.mockResolvedValueOnce({
      agent: agent({ id: 'a2', tenant: 't2' }),
      deleted: false,
    });
    await expect(registry.pinned('t1', { agentId: 'a2', version: 1 }, 'support')).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });

  it('answers a name no agent can have without asking PostgreSQL', async () => {
    expect(await registry.find('t1', 'Not A Name')).toBeNull();
    expect(await registry.find('t1', 'x'.repeat(500))).toBeNull();
    expect(repository.findVisible).not.toHaveBeenCalled();
  });

  it('uses the current version for a conversation that has no pin', async () => {
    expect(await registry.pinned('t1', null, 'support')).toMatchObject({ id: 'a1', version: 1 });
    expect(repository.findVisible).toHaveBeenCalledWith('t1', 'support');
  });
});
