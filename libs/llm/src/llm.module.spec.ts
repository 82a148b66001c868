import { Global, Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppConfig } from '@lib/core';
import { AnthropicLlmClient } from './anthropic-llm-client';
import { LlmClient } from './llm-client';
import { LlmModule } from './llm.module';
import { OfflineLlmClient } from './offline-llm-client';

async function llmClientWith(settings: Partial<AppConfig>): Promise<LlmClient> {
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
  @Module({ providers: [{ provide: AppConfig, useValue: config }], exports: [AppConfig] })
  class ConfigForTest {}
  const moduleRef = await Test.createTestingModule({ imports: [ConfigForTest, LlmModule] }).compile();
  return moduleRef.get(LlmClient);
}

describe('LlmModule', () => {
  afterEach(() => jest.restoreAllMocks());

  it('provides the Anthropic adapter when an API key is configured', async () => {
    const client = await llmClientWith({ anthropicApiKey: 'sk-ant-test' });
    expect(client).toBeInstanceOf(AnthropicLlmClient);
    expect(client.kind).toBe('anthropic');
  });

  it('provides the offline demo model without an API key, and warns that answers are not from Claude', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const client = await llmClientWith({ anthropicApiKey: '' });
    expect(client).toBeInstanceOf(OfflineLlmClient);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('do not come from Claude'));
  });
});
