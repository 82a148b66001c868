// Automatic prompt caching: where a request carries its `cache_control` breakpoints. The provider caches the prefix
// up to each breakpoint (in the order tools → system → messages) and reads it back on a later request whose bytes
// up to there are the same, so the markers go where a conversation's prefix stops changing:
//  - the last tool and the system prompt: the same on every call of an agent;
//  - the last message (the rolling tail: the next call of the turn, or the next turn, starts with all of it);
//  - the user message before the last answer, where the previous call put its tail marker: a call that adds more
//    blocks than the provider looks back over (20) still finds the previous call's prefix there.
// At most four breakpoints per request, as the API allows. Markers go on user messages only: the API refuses them
// on thinking blocks, which only assistant messages hold.
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

/** The indexes of the messages that carry a tail breakpoint: the last one, then the user message before its answer. */
export function tailBreakpoints(messages: readonly Pick<MessageParam, 'role'>[]): number[] {
  const indexes: number[] = [];
  const last = messages.length - 1;
  if (last < 0 || messages[last].role !== 'user') return indexes;
  indexes.push(last);
  let i = last - 1;
  while (i >= 0 && messages[i].role !== 'assistant') i -= 1;
  while (i >= 0 && messages[i].role !== 'user') i -= 1;
  if (i >= 0) indexes.push(i);
  return indexes;
}

/** The message with a breakpoint on its last block (a string content becomes one text block). */
function marked(message: MessageParam): MessageParam {
  const blocks =
    typeof message.content === 'string'
      ? [{ type: 'text' as const, text: message.content }]
      : [...message.content];
  if (!blocks.length) return message;
  const last = blocks[blocks.length - 1];
  if (last.type === 'thinking' || last.type === 'redacted_thinking') return message;
  blocks[blocks.length - 1] = { ...last, cache_control: EPHEMERAL } as typeof last;
  return { ...message, content: blocks } as MessageParam;
}
