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
  it('marks the last tool, the system prompt and the first message of a new conversation', () => {
    const marked = withCacheBreakpoints(params([{ role: 'user', content: 'Hello' }]));
    expect(marked.tools).toEqual([tool('a'), { ...tool('b'), cache_control: { type: 'ephemeral' } }]);
    expect(marked.system).toEqual([
      { type: 'text', text: 'You help.', cache_control: { type: 'ephemeral' } },
    ]);
    expect(marked.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Hello', cache_control: { type: 'ephemeral' } }] },
    ]);
  });

  it('marks the tail and the user message before the last answer, where the previous call put its marker', () => {
    const messages: Params['messages'] = [
      { role: 'user', content: 'Where is order 1001?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'lookup_order', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'shipped' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'It has shipped.' }] },
      { role: 'user', content: 'Thanks! And 1002?' },
    ];
    const marked = withCacheBreakpoints(params(messages));
    expect(markers(marked)).toBe(MAX_CACHE_BREAKPOINTS);
    expect(markers(marked.messages[4])).toBe(1);
    expect(markers(marked.messages[2])).toBe(1);
    expect(markers([marked.messages[0], marked.messages[1], marked.messages[3]])).toBe(0);
    expect(marked.messages[2].content).toEqual([
      { type: 'tool_result', tool_use_id: 't1', content: 'shipped', cache_control: { type: 'ephemeral' } },
    ]);
    // The request given is left as it was.
    expect(markers(messages)).toBe(0);
  });

  it('never uses more than four breakpoints, and fewer without tools or a system prompt', () => {
    const messages: Params['messages'] = [
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b' },
      { role: 'user', content: 'c' },
    ];
    expect(markers(withCacheBreakpoints(params(messages, { tools: [], system: undefined })))).toBe(2);
    expect(markers(withCacheBreakpoints(params(messages, { tools: [] })))).toBe(3);
    expect(markers(withCacheBreakpoints(params(messages)))).toBe(4);
  });

  it('is byte-stable: the same request gets the same markers every time', () => {
    const request = params([{ role: 'user', content: 'Hello' }]);
    expect(JSON.stringify(withCacheBreakpoints(request))).toBe(JSON.stringify(withCacheBreakpoints(request)));
  });
});
