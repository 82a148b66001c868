// Provides the model port: the Anthropic adapter when an API key is configured, the offline demo model otherwise.
import { Logger, Module } from '@nestjs/common';
import { AppConfig } from '@lib/core';
import { AnthropicLlmClient } from './anthropic-llm-client';
import { LlmClient } from './llm-client';
import { OfflineLlmClient } from './offline-llm-client';

export function createLlmClient(config: AppConfig, logger = new Logger('LlmModule')): LlmClient {
  if (config.anthropicApiKey) {
    logger.log(`Model calls go to the Anthropic API (default model ${config.anthropicModel}).`);
    return new AnthropicLlmClient(config);
  }
  logger.warn(
    'No ANTHROPIC_API_KEY is set: the offline demo model answers every request, and its answers do not come from Claude.',
  );
  return new OfflineLlmClient(config);
}

@Module({
  providers: [
    { provide: LlmClient, inject: [AppConfig], useFactory: (config: AppConfig) => createLlmClient(config) },
  ],
  exports: [LlmClient],
})
export class LlmModule {}
