// How many input tokens a request may hold, before the provider has counted them: what rate limits and
// budgets reserve up front (and settle to the real count afterwards).
import type { LlmRequest } from './llm-client';

/** Role markers and turn framing the provider adds around each message. */
const TOKENS_PER_MESSAGE = 8;
/** Framing of the request as a whole. */
const TOKENS_PER_REQUEST = 16;
/**
 * The system prompt the provider adds when a request carries tools (Anthropic documents 313 to 346 tokens,
 * depending on the model and `tool_choice`): rounded up.
 */
const TOOL_USE_SYSTEM_PROMPT_TOKENS = 400;

/**
 * An upper bound for any text, in any script: one token per UTF-8 byte of the serialised prompt. A byte-level
 * tokenizer never makes a token of less than one byte, so no text, however it tokenizes (Chinese, Japanese,
 * emoji, random symbols), holds more tokens than bytes; serialising to JSON only adds bytes. A character count
 * is not a bound: a CJK character is one UTF-16 unit but three bytes and up to three tokens.
 *
 * English prose holds about four bytes per token, so the bound is about four times the real count there:
 * budgets reserve it, then settle to the real count after the call, and the rate limiter gives the
 * difference back.
 */
export function estimateInputTokens(request: Pick<LlmRequest, 'system' | 'messages' | 'tools'>): number {
  const bytes =
    Buffer.byteLength(request.system, 'utf8') +
    Buffer.byteLength(JSON.stringify(request.messages), 'utf8') +
    Buffer.byteLength(JSON.stringify(request.tools), 'utf8');
  const toolPrompt = request.tools.length ? TOOL_USE_SYSTEM_PROMPT_TOKENS : 0;
  return bytes + TOKENS_PER_MESSAGE * request.messages.length + TOKENS_PER_REQUEST + toolPrompt;
}
