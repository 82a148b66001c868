// How many input tokens a request may hold, before the provider has counted them: what rate limits and
// budgets reserve up front (and settle to the real count afterwards).
import type { LlmRequest } from './llm-client';

/**
 * A deliberately high estimate: one token per three characters of the serialised prompt (English averages
 * about four), plus a few tokens of framing per message. Budgets reserve it at the dearest input price.
 */
export function estimateInputTokens(request: Pick<LlmRequest, 'system' | 'messages' | 'tools'>): number {
  const chars =
    request.system.length + JSON.stringify(request.messages).length + JSON.stringify(request.tools).length;
  return Math.ceil(chars / 3) + 8 * request.messages.length + 16;
}
