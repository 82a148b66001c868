import { Global, Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppConfig, Metrics, RedisService } from '@lib/core';
import { LlmClient } from './llm-client';
import { LlmModule } from './llm.module';
import { OfflineLlmClient } from './offline-llm-client';
import { PriceTable } from './pricing';
import { ResilientLlmClient } from './resilient-llm-client';

async function moduleWith(settings: Partial<AppConfig>) {
  const config = Object.assign(new AppConfig(), {
    anthropicApiKey: '',
    anthropicBaseUrl: undefined,
    anthropicModel: 'claude-sonnet-4-6',
    llmMaxRetries: 0,
    llmTimeoutMs: 1_000,
    offlineModelPaceMs: 0,
    ...settings,
  });
  // Stands in for the core module, which provides AppConfig globally.
  @Global()
  @Module({
    providers: [
      { provide: AppConfig, useValue: config },
      // Never connected: the rate limiter only talks to Redis when a call is made.
      { provide: RedisService, useValue: { client: {} } },
      Metrics,
    ],
    exports: [AppConfig, RedisService, Metrics],
  })
  class CoreForTest {}
  return Test.createTestingModule({ imports: [CoreForTest, LlmModule] }).compile();
}

async function llmClientWith(settings: Partial<AppConfig>): Promise<LlmClient> {
  return (await moduleWith(settings)).get(LlmClient);
}

describe('LlmModule', () => {
  afterEach(() => jest.restoreAllMocks());

  it('provides the Anthropic API behind the key pool, rate limit and retries when an API key is configured', async () => {
    const client = await llmClientWith({ anthropicApiKey: 'sk-ant-test' });
    expect(client).toBeInstanceOf(ResilientLlmClient);
    expect(client.kind).toBe('anthropic');
    expect(client.keyPool()).toMatchObject({ total: 1, active: 1 });
  });

  it('pools every key of ANTHROPIC_API_KEYS', async () => {
    const client = await llmClientWith({ anthropicApiKeys: ['sk-ant-one-1234', 'sk-ant-two-1234'] });
    expect(client.keyPool()).toMatchObject({ total: 2, active: 2 });
    expect(JSON.stringify(client.keyPool())).not.toContain('sk-ant');
  });

  it('provides the price table with the configured overrides', async () => {
    const prices = (
      await moduleWith({
        modelPrices: { 'claude-sonnet-4-6': { input: 1, output: 2, cacheWrite: 3, cacheRead: 4 } },
      })
    ).get(PriceTable);
    expect(prices.priceOf('claude-sonnet-4-6-20990101').price).toEqual({
      input: 1,
      output: 2,
      cacheWrite: 3,
      cacheRead: 4,
    });
    expect(prices.priceOf('claude-haiku-4-5').price.input).toBe(1);
  });

  it('provides the offline demo model without an API key, and warns that answers are not from Claude', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const client = await llmClientWith({ anthropicApiKey: '' });
    expect(client).toBeInstanceOf(OfflineLlmClient);
    expect(client.keyPool()).toBeNull();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('do not come from Claude'));
  });
});
