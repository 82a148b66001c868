// What of a conversation is sent to the model, as pure functions of the stored history and its context records:
// a summary in place of the oldest messages, a placeholder in place of old tool results, the rest as stored. Every
// size here is the never-underestimating bound of requestTokenBound (a token per UTF-8 byte of the request), so a
// request these functions say fits does fit the provider's window.
import type { ChatMessage, ContentBlock, ToolResultBlock, ToolSpec } from '@lib/llm';
import { requestTokenBound } from '@lib/llm';

/** What replaces a cleared tool result: the same for every result, so the prefix stays byte-stable across turns. */
export const CLEARED_TOOL_RESULT =
  '[This tool result was cleared from the context to save space. Call the tool again if it is needed.]';

/** Clearing old tool results stops once the request is down to this share of the budget. */
export const CLEARING_TARGET = 0.75;
/** A compaction keeps the most recent messages that, with the summary, fill at most this share of the budget. */
export const COMPACTION_TARGET = 0.6;
/** The most a summary may take of the budget. */
export const SUMMARY_SHARE = 0.2;

/** The fixed parts of a request and the conversation, positions 0.. being `history` then `turn`. */
export interface ContextInput {
  system: string;
  tools: ToolSpec[];
  /** The stored messages: position i is the message of seq i. */
  history: ChatMessage[];
  /** The running turn's messages so far (its new user message first), after the history. */
  turn: ChatMessage[];
  maxTokens: number;
  /** The most the request may take: input bound plus max_tokens. */
  budget: number;
}

/** How the older part of a conversation is sent: both only move forward. */
export interface ContextState {
  /** The summary standing in for positions 0..lastSeq. */
  summary: { lastSeq: number; text: string } | null;
  /** Tool results of the messages before this position are sent as CLEARED_TOOL_RESULT. */
  clearedBefore: number;
}

export interface RenderedContext {
  messages: ChatMessage[];
  /** The request's bound: input and max_tokens. */
  tokens: number;
  /** True when the messages sent are not the whole history as stored (a summary or a cleared result). */
  compacted: boolean;
}

/** The whole conversation: history then turn. */
export function allMessages(input: Pick<ContextInput, 'history' | 'turn'>): ChatMessage[] {
  return [...input.history, ...input.turn];
}

/** The first position sent as a message (after the summary's range). */
export function firstKept(state: ContextState): number {
  return state.summary ? state.summary.lastSeq + 1 : 0;
}

/** The text block that carries a summary, at the head of what is sent. */
export function summaryBlock(text: string, covered: number): ContentBlock {
  return {
    type: 'text',
    text:
      `<conversation_summary>\nThe first ${covered} messages of this conversation are not shown; ` +
      `this is their summary:\n\n${text}\n</conversation_summary>`,
  };
}

/** What a summary adds around its text, at most: its framing text, block and message (the text's JSON bytes apart). */
const SUMMARY_FRAMING = messageBytes({ role: 'user', content: [summaryBlock('', 1e12)] });

/** The messages to send for `state`, and the request's bound. */
export function renderContext(input: ContextInput, state: ContextState): RenderedContext {
  const all = allMessages(input);
  const start = firstKept(state);
  let compacted = start > 0;
  const kept: ChatMessage[] = [];
  for (let position = start; position < all.length; position += 1) {
    const message = all[position];
    if (position < state.clearedBefore && hasToolResults(message)) {
      kept.push(clearedMessage(message));
      compacted = true;
    } else kept.push(message);
  }
  if (state.summary) {
    const block = summaryBlock(state.summary.text, start);
    const head = kept[0];
    // A cut lands on an assistant message or a user message without tool results (see isCutPoint): the summary
    // opens the user message, or comes as the user message before the assistant's.
    if (head?.role === 'user') kept[0] = { role: 'user', content: [block, ...blocksOf(head)] };
    else kept.unshift({ role: 'user', content: [block] });
  }
  const tokens = requestTokenBound({
    system: input.system,
    tools: input.tools,
    messages: kept,
    maxTokens: input.maxTokens,
  });
  return { messages: kept, tokens, compacted };
}

/**
 * The clearing position that brings the request down to `target` (or as far as clearing can): the oldest tool
 * results go first; the last message with tool results is never cleared (the model has not answered it yet).
 */
export function clearingPosition(input: ContextInput, state: ContextState, target: number): number {
  const all = allMessages(input);
  const protectedFrom = lastToolResultsPosition(all);
  let size = renderContext(input, state).tokens;
  let clearedBefore = state.clearedBefore;
  for (
    let position = Math.max(firstKept(state), state.clearedBefore);
    position < protectedFrom;
    position += 1
  ) {
    if (size <= target) break;
    const message = all[position];
    clearedBefore = position + 1;
    if (!hasToolResults(message)) continue;
    size -= messageBytes(message) - messageBytes(clearedMessage(message));
  }
  return clearedBefore;
}

/** A position where the messages sent may start: the provider needs a user message first and no orphan result. */
export function isCutPoint(message: ChatMessage | undefined): boolean {
  if (!message) return false;
  return message.role === 'assistant' || !hasToolResults(message);
}

/**
 * Where to cut for a compaction: the earliest valid position after what is already summarised whose kept messages,
 * with a summary of at most `summaryBytes`, bring the request to `target`; else the latest valid one. Only stored
 * messages are summarised (the cut is at most at the turn's start). Null when nothing can be summarised.
 */
export function compactionCut(
  input: ContextInput,
  state: ContextState,
  target: number,
  summaryBytes: number,
): number | null {
  const all = allMessages(input);
  const start = firstKept(state);
  const fixed = requestTokenBound({
    system: input.system,
    tools: input.tools,
    messages: [],
    maxTokens: input.maxTokens,
  });
  // The kept messages' sizes from the end, as sent (cleared where the state says so).
  const suffix = new Array<number>(all.length + 1).fill(0);
  for (let position = all.length - 1; position >= 0; position -= 1) {
    const message = all[position];
    const sent =
      position < state.clearedBefore && hasToolResults(message) ? clearedMessage(message) : message;
    suffix[position] = suffix[position + 1] + messageBytes(sent);
  }
  let latest: number | null = null;
  for (let position = start + 1; position <= input.history.length; position += 1) {
    if (!isCutPoint(all[position])) continue;
    latest = position;
    // The summary's own message framing is counted with it (messageBytes of a one-block message).
    if (fixed + summaryBytes + SUMMARY_FRAMING + suffix[position] <= target) return position;
  }
  return latest;
}

/** The most bytes a summary may take of this budget. */
export function summaryAllowance(budget: number): number {
  return Math.floor(budget * SUMMARY_SHARE);
}

/** The message with each tool result's content replaced by the placeholder (ids and error flags kept). */
export function clearedMessage(message: ChatMessage): ChatMessage {
  if (typeof message.content === 'string') return message;
  return {
    role: message.role,
    content: message.content.map((block) => (block.type === 'tool_result' ? clearedResult(block) : block)),
  };
}

function clearedResult(block: ToolResultBlock): ToolResultBlock {
  return { ...block, content: CLEARED_TOOL_RESULT };
}

export function hasToolResults(message: ChatMessage): boolean {
  return typeof message.content !== 'string' && message.content.some((block) => block.type === 'tool_result');
}

function lastToolResultsPosition(all: ChatMessage[]): number {
  for (let position = all.length - 1; position >= 0; position -= 1) {
    if (hasToolResults(all[position])) return position;
  }
  return all.length;
}

function blocksOf(message: ChatMessage): ContentBlock[] {
  return typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : message.content;
}

/** What one message adds to the request's bound: its JSON bytes, the separator and the per-message framing. */
export function messageBytes(message: ChatMessage): number {
  return Buffer.byteLength(JSON.stringify(message), 'utf8') + 9;
}

/** The bytes a string takes once in JSON (quotes and escapes included). */
export function jsonBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text), 'utf8');
}

/** The string cut (with an ellipsis) so that its JSON form takes at most `max` bytes. */
export function clipToJsonBytes(text: string, max: number): string {
  if (jsonBytes(text) <= max) return text;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (jsonBytes(`${text.slice(0, mid)}…`) <= max) low = mid;
    else high = mid - 1;
  }
  // Never split a surrogate pair: a lone half would be escaped as \uXXXX and the provider refuses it.
  let end = low;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return end > 0 ? `${text.slice(0, end)}…` : '';
}
