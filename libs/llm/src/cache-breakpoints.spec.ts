// Where automatic prompt caching puts its breakpoints: the last tool, the system prompt and the conversation's
// tail, never more than four, never on an assistant message, and without changing the request it was given.
import type Anthropic from '@anthropic-ai/sdk';
import { MAX_CACHE_BREAKPOINTS, withCacheBreakpoints } from './cache-breakpoints';

type Params = Anthropic.Messages.MessageCreateParamsNonStreaming;

const tool = (name: string) => ({ name, description: name, input_schema: { type: 'object' as const } });

function markers(value: unknown): number {
  return JSON.stringify(value).split('"cache_control"').length - 1;
}

function params(messages: Params['messages'], extra: Partial<Params> = {}): Params {
  return {
    model: 'claude-sonnet-4-6',
    max_tokens: 100,
    system: 'You help.',
    tools: [tool('a'), tool('b')],
    messages,
    ...extra,
  };
}

describe('withCacheBreakpoints', () => {
  const ephemeral = { type: 'ephemeral' };

  it('marks the last tool and the system prompt; a first plain-text message stays the string it is', () => {
    const marked = withCacheBreakpoints(params([{ role: 'user', content: 'Hello' }]));
    expect(marked.tools).toEqual([tool('a'), { ...tool('b'), cache_control: ephemeral }]);
    expect(marked.system).toEqual([{ type: 'text', text: 'You help.', cache_control: ephemeral }]);
    expect(marked.messages).toEqual([{ role: 'user', content: 'Hello' }]);
  });

  it('in a tool loop, marks the last tool results and the results the previous call ended with', () => {
    const messages: Params['messages'] = [
      { role: 'user', content: 'Where are orders 1001 and 1002?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'lookup_order', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'shipped' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't2', name: 'lookup_order', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't2', content: 'packed' }] },
    ];
    const marked = withCacheBreakpoints(params(messages));
    expect(markers(marked)).toBe(MAX_CACHE_BREAKPOINTS);
    expect(marked.messages[4].content).toEqual([
      { type: 'tool_result', tool_use_id: 't2', content: 'packed', cache_control: ephemeral },
    ]);
    expect(markers(marked.messages[2])).toBe(1);
    expect(markers([marked.messages[0], marked.messages[1], marked.messages[3]])).toBe(0);
    // The request given is left as it was.
    expect(markers(messages)).toBe(0);
  });

  it('on a new plain-text turn, marks the last answer and where the previous call put its tail marker', () => {
    const messages: Params['messages'] = [
      { role: 'user', content: 'Where is order 1001?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'lookup_order', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'shipped' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'It has shipped.' }] },
      { role: 'user', content: 'Thanks! And 1002?' },
    ];
    const marked = withCacheBreakpoints(params(messages));
    expect(marked.messages[3].content).toEqual([
      { type: 'text', text: 'It has shipped.', cache_control: ephemeral },
    ]);
    expect(markers(marked.messages[2])).toBe(1);
    expect(marked.messages[4]).toEqual({ role: 'user', content: 'Thanks! And 1002?' });
    expect(markers(marked)).toBe(4);
  });

  it('marks the answer before a plain-text message of a conversation without tools', () => {
    const messages: Params['messages'] = [
      { role: 'user', content: 'a' },
      { role: 'assistant', content: [{ type: 'text', text: 'b' }] },
      { role: 'user', content: 'c' },
      { role: 'assistant', content: [{ type: 'text', text: 'd' }] },
      { role: 'user', content: 'e' },
    ];
    const marked = withCacheBreakpoints(params(messages, { tools: [] }));
    expect(markers(marked.messages[3])).toBe(1);
    expect(markers(marked.messages[1])).toBe(1);
    expect(markers(marked)).toBe(3);
    expect(markers(withCacheBreakpoints(params(messages, { tools: [], system: undefined })))).toBe(2);
  });

  it('never marks a thinking block, which the API refuses', () => {
    const messages = [
      { role: 'user', content: 'a' },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'hm', signature: 'sig' }] },
      { role: 'user', content: 'c' },
    ] as Params['messages'];
    expect(markers(withCacheBreakpoints(params(messages)).messages)).toBe(0);
  });

  it('is byte-stable: the same request gets the same markers every time', () => {
    const request = params([
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: [{ type: 'text', text: 'Hi' }] },
      { role: 'user', content: 'Bye' },
    ]);
    expect(JSON.stringify(withCacheBreakpoints(request))).toBe(JSON.stringify(withCacheBreakpoints(request)));
  });
});
