// Automatic prompt caching: where a request carries its `cache_control` breakpoints. The provider caches the prefix
// up to each breakpoint (in the order tools → system → messages) and reads it back on a later request whose bytes
// up to there are the same, so the markers go where a conversation's prefix stops changing:
//  - the last tool and the system prompt: the same on every call of an agent;
//  - the conversation's tail: the last message when it holds content blocks (tool results, a summary), else the last
//    assistant message (a plain-text user message is sent as the string it is, and it is short);
//  - the bridge: where the previous call of the conversation put its tail marker, so a call that adds more blocks
//    than the provider looks back over (20) still reads the previous call's prefix.
// At most four breakpoints per request, as the API allows; never on a thinking block, which the API refuses.
import type Anthropic from '@anthropic-ai/sdk';

type Params = Anthropic.Messages.MessageCreateParams;
type MessageParam = Anthropic.Messages.MessageParam;

/** The most breakpoints one request may carry. */
export const MAX_CACHE_BREAKPOINTS = 4;

const EPHEMERAL = { type: 'ephemeral' } as const;

/** The request with its breakpoints; the given object is not changed. */
export function withCacheBreakpoints<P extends Params>(params: P): P {
  let left = MAX_CACHE_BREAKPOINTS;
  const out: P = { ...params };
  if (params.tools?.length) {
    const tools = [...params.tools];
    tools[tools.length - 1] = {
      ...tools[tools.length - 1],
      cache_control: EPHEMERAL,
    } as (typeof tools)[number];
    out.tools = tools;
    left -= 1;
  }
  if (typeof params.system === 'string' ? params.system.length > 0 : params.system?.length) {
    const blocks =
      typeof params.system === 'string'
        ? [{ type: 'text' as const, text: params.system }]
        : [...params.system!];
    blocks[blocks.length - 1] = { ...blocks[blocks.length - 1], cache_control: EPHEMERAL };
    out.system = blocks;
    left -= 1;
  }
  const messages = [...params.messages];
  for (const index of tailBreakpoints(messages).slice(0, left)) messages[index] = marked(messages[index]);
  out.messages = messages;
  return out;
}

/**
 * The indexes of the messages that carry a breakpoint, latest first: the tail, then the bridge (the tail of the
 * request the previous call sent, which ended before the last assistant message).
 */
export function tailBreakpoints(messages: readonly MessageParam[]): number[] {
  const tail = tailOf(messages, messages.length);
  if (tail < 0) return [];
  let lastAnswer = messages.length - 1;
  while (lastAnswer >= 0 && messages[lastAnswer].role !== 'assistant') lastAnswer -= 1;
  const bridge = lastAnswer > 0 ? tailOf(messages, lastAnswer) : -1;
  return bridge >= 0 && bridge !== tail ? [tail, bridge] : [tail];
}

/** The tail marker of the request made of the first `end` messages, or -1. */
function tailOf(messages: readonly MessageParam[], end: number): number {
  if (end > 0 && messages[end - 1].role === 'user' && markable(messages[end - 1])) return end - 1;
  for (let i = end - 1; i >= 0; i -= 1) {
    if (messages[i].role === 'assistant') return markable(messages[i]) ? i : -1;
  }
  return -1;
}

/** A message whose last block can carry a breakpoint (a string content has no block to carry it). */
function markable(message: MessageParam): boolean {
  if (typeof message.content === 'string' || !message.content.length) return false;
  const last = message.content[message.content.length - 1];
  return last.type !== 'thinking' && last.type !== 'redacted_thinking';
}

/** The message with a breakpoint on its last block. */
function marked(message: MessageParam): MessageParam {
  if (typeof message.content === 'string') return message;
  const blocks = [...message.content];
  const last = blocks[blocks.length - 1];
  blocks[blocks.length - 1] = { ...last, cache_control: EPHEMERAL } as typeof last;
  return { ...message, content: blocks } as MessageParam;
}
