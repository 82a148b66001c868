// The provider's answer to a request larger than the model's context window, recognised once here: a 400
// `invalid_request_error` "prompt is too long: 210345 tokens > 200000 maximum" (or, from older models, "input length
// and `max_tokens` exceed context limit: 188240 + 21333 > 200000"). The caller compacts further and retries.
import { LlmError } from './llm-error';

/** What the provider counted and allows, in tokens. */
export interface ContextOverflow {
  tokens: number;
  maximum: number;
}

const PROMPT_TOO_LONG = /prompt is too long:\s*(\d+)\s*tokens\s*>\s*(\d+)\s*maximum/i;
const EXCEEDS_CONTEXT_LIMIT = /exceed context limit:\s*(\d+)\s*\+\s*(\d+)\s*>\s*(\d+)/i;

/** The counts the provider's message states, or undefined when the message is about something else. */
export function contextOverflowOf(message: string | null | undefined): ContextOverflow | undefined {
  if (!message) return undefined;
  const tooLong = PROMPT_TOO_LONG.exec(message);
  if (tooLong) return { tokens: Number(tooLong[1]), maximum: Number(tooLong[2]) };
  const exceeds = EXCEEDS_CONTEXT_LIMIT.exec(message);
  if (exceeds) return { tokens: Number(exceeds[1]) + Number(exceeds[2]), maximum: Number(exceeds[3]) };
  return undefined;
}

/** The overflow a failed call reports, when it failed because the request was too long for the model. */
export function contextOverflowError(error: unknown): ContextOverflow | undefined {
  return error instanceof LlmError && error.kind === 'invalid_request' ? error.contextOverflow : undefined;
}
