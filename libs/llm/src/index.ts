export type {
  AssistantBlock,
  ChatMessage,
  ContentBlock,
  DocumentBlock,
  ImageBlock,
  MediaSource,
  RedactedThinkingBlock,
  Role,
  TextBlock,
  ThinkingBlock,
  ToolResultBlock,
  ToolUseBlock,
  UserContentBlock,
  UserMessage,
} from './content';
export { messageText } from './content';
export {
  base64DecodedBytes,
  DOCUMENT_MEDIA_TYPES,
  IMAGE_MEDIA_TYPES,
  MAX_TEXT_CHARS,
  USER_BLOCK_TYPES,
  userMessageProblems,
} from './user-content';
export type { ContentProblem, UserContentLimits } from './user-content';
export { LlmClient } from './llm-client';
export type { LlmRequest, LlmResult, LlmStreamEvent, LlmUsage, ToolSpec } from './llm-client';
export { LlmError } from './llm-error';
export type { LlmErrorKind, PartialCall } from './llm-error';
export { DEFAULT_PRICES, PriceTable, roundUsd, worstCaseUsd } from './pricing';
export type { ModelPrice, PricedCall } from './pricing';
export { AnthropicLlmClient } from './anthropic-llm-client';
export type { AnthropicClientOptions } from './anthropic-llm-client';
export { OfflineLlmClient, OFFLINE_LABEL, OFFLINE_MODEL } from './offline-llm-client';
export { LlmModule, createLlmClient, createPriceTable } from './llm.module';
export type { LlmClientDependencies } from './llm.module';
export { ResilientLlmClient } from './resilient-llm-client';
export { ProviderKeyPool, keyId } from './key-pool';
export type { KeyPoolStatus, KeyState, PooledKey } from './key-pool';
export { ProviderRateLimiter, RedisRateLimiter, UnlimitedRateLimiter } from './rate-limiter';
export type { RateLimitGrant, RateLimitSettings } from './rate-limiter';
export { RateLimitWatch } from './rate-limit-watch';
export type { NearCapacity, NearCapacityListener, RateWindow, WindowFill } from './rate-limit-watch';
export { fullJitterDelayMs, retryDelayMs, realSleep } from './retry-policy';
export type { RetrySettings, Sleeper } from './retry-policy';
export {
  countPdfPages,
  DOCUMENT_PAGE_TOKEN_BOUND,
  estimateInputTokens,
  IMAGE_TOKEN_BOUND,
  mediaTokenBound,
} from './token-estimate';
export {
  ContextWindows,
  DEFAULT_CONTEXT_WINDOWS,
  UNKNOWN_MODEL_CONTEXT_WINDOW,
  requestTokenBound,
} from './context-windows';
export { MAX_CACHE_BREAKPOINTS, tailBreakpoints, withCacheBreakpoints } from './cache-breakpoints';
export { contextOverflowError, contextOverflowOf } from './prompt-too-long';
export type { ContextOverflow } from './prompt-too-long';
