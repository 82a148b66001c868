// A model call as llm_calls records it, priced: what the agent loop and the context compaction both record.
import type { LlmCallRecord } from '@lib/conversations';
import type { LlmError, LlmResult, PartialCall, PriceTable } from '@lib/llm';

export interface CallOwner {
  apiKeyId?: string | null;
  taskId?: string;
}

export function callRecordOf(
  prices: PriceTable,
  result: Omit<LlmResult, 'stop_reason' | 'content'> & { stop_reason?: string },
  owner: CallOwner,
): LlmCallRecord {
  const { costUsd, known } = prices.cost(result.model, result.usage);
  return {
    status: 'completed',
    model: result.model,
    input_tokens: result.usage.input_tokens,
    output_tokens: result.usage.output_tokens,
    cache_creation_input_tokens: result.usage.cache_creation_input_tokens,
    cache_read_input_tokens: result.usage.cache_read_input_tokens,
    cost_usd: costUsd,
    latency_ms: Math.round(result.latency_ms),
    time_to_first_token_ms:
      result.time_to_first_token_ms === null ? null : Math.round(result.time_to_first_token_ms),
    stop_reason: result.stop_reason ?? 'end_turn',
    unknown_model_price: !known,
    api_key_id: owner.apiKeyId ?? null,
    task_id: owner.taskId ?? null,
  };
}

/** The record of a call the provider started answering but that did not finish: `cancelled` or `failed`. */
export function partialCallRecordOf(
  prices: PriceTable,
  error: LlmError & { partial: PartialCall },
  fallbackModel: string,
  owner: CallOwner,
): LlmCallRecord {
  const partial = error.partial;
  return {
    ...callRecordOf(prices, { ...partial, model: partial.model || fallbackModel }, owner),
    status: error.kind === 'aborted' ? 'cancelled' : 'failed',
    stop_reason: error.kind === 'aborted' ? 'cancelled' : error.kind,
  };
}
