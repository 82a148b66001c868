// How many input tokens a request may hold, before the provider has counted them: what rate limits and
// budgets reserve up front (and settle to the real count afterwards).
import type { ChatMessage } from './content';
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
 * One image, whatever its size: the provider scales an image down until it holds at most about 1,600 tokens
 * (width × height / 750, the long edge at most 1,568 px); rounded up for models that keep more detail.
 */
export const IMAGE_TOKEN_BOUND = 2_000;
/**
 * One PDF page: its text (a dense page holds up to about 3,000 tokens) plus the page as an image.
 */
export const DOCUMENT_PAGE_TOKEN_BOUND = 3_000 + IMAGE_TOKEN_BOUND;
/** The most pages the provider reads from one PDF: what a PDF by URL (pages unknown here) is counted as. */
export const DOCUMENT_MAX_PAGES = 100;

/**
 * An upper bound for any text, in any script: one token per UTF-8 byte of the serialised prompt. A byte-level
 * tokenizer never makes a token of less than one byte, so no text, however it tokenizes (Chinese, Japanese,
 * emoji, random symbols), holds more tokens than bytes; serialising to JSON only adds bytes. A character count
 * is not a bound: a CJK character is one UTF-16 unit but three bytes and up to three tokens.
 *
 * English prose holds about four bytes per token, so the bound is about four times the real count there:
 * budgets reserve it, then settle to the real count after the call, and the rate limiter gives the
 * difference back.
 *
 * Images and PDFs are not counted by their bytes (base64 data is not tokenized as text) but by the bounds above.
 */
export function estimateInputTokens(request: Pick<LlmRequest, 'system' | 'messages' | 'tools'>): number {
  const media = { tokens: 0 };
  const bytes =
    Buffer.byteLength(request.system, 'utf8') +
    Buffer.byteLength(JSON.stringify(request.messages, mediaCounter(media)), 'utf8') +
    Buffer.byteLength(JSON.stringify(request.tools), 'utf8');
  const toolPrompt = request.tools.length ? TOOL_USE_SYSTEM_PROMPT_TOKENS : 0;
  return (
    bytes + media.tokens + TOKENS_PER_MESSAGE * request.messages.length + TOKENS_PER_REQUEST + toolPrompt
  );
}

/** The bound of the images and documents of `messages` alone. */
export function mediaTokenBound(messages: ChatMessage[]): number {
  const media = { tokens: 0 };
  JSON.stringify(messages, mediaCounter(media));
  return media.tokens;
}

/** A JSON replacer that counts image and document blocks into `media` and serialises them without their data. */
function mediaCounter(media: { tokens: number }): (key: string, value: unknown) => unknown {
  return (_key, value) => {
    if (typeof value !== 'object' || value === null) return value;
    const block = value as { type?: unknown; source?: { type?: unknown; data?: unknown } };
    if (block.type === 'image') {
      media.tokens += IMAGE_TOKEN_BOUND;
      return { type: 'image' };
    }
    if (block.type === 'document') {
      media.tokens += documentBound(block.source);
      return { type: 'document', title: (value as { title?: unknown }).title };
    }
    return value;
  };
}

function documentBound(source: { type?: unknown; data?: unknown } | undefined): number {
  if (source?.type !== 'base64' || typeof source.data !== 'string') {
    return DOCUMENT_MAX_PAGES * DOCUMENT_PAGE_TOKEN_BOUND;
  }
  return Math.min(countPdfPages(source.data), DOCUMENT_MAX_PAGES) * DOCUMENT_PAGE_TOKEN_BOUND;
}

/**
 * The pages of a base64 PDF: the largest of its page objects (`/Type /Page`) and its page trees' `/Count`. A PDF
 * whose page tree sits in a compressed object stream shows neither: then one page per 10 KB of file is assumed
 * (an estimate, not a bound; budgets settle to the provider's count after the call).
 */
export function countPdfPages(base64: string): number {
  const pdf = Buffer.from(base64, 'base64').toString('latin1');
  const objects = pdf.match(/\/Type\s*\/Page(?![a-zA-Z])/g)?.length ?? 0;
  const counts = [
    ...pdf.matchAll(/\/Type\s*\/Pages\b[^>]*?\/Count\s+(\d+)|\/Count\s+(\d+)[^>]*?\/Type\s*\/Pages\b/g),
  ].map((m) => Number(m[1] ?? m[2]));
  const pages = Math.max(objects, ...counts);
  return pages > 0 ? pages : Math.max(1, Math.ceil(pdf.length / 10_240));
}
