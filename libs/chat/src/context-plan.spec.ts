// The rules of what is sent to the model: clearing old tool results keeps every tool_use paired with its result,
// a compaction cut leaves a history the provider accepts, and every size is the request's never-low bound.
import fc from 'fast-check';
import { ChatMessage, requestTokenBound, ToolResultBlock, ToolUseBlock } from '@lib/llm';
import {
  CLEARED_TOOL_RESULT,
  clearingPosition,
  clipToJsonBytes,
  compactionCut,
  ContextInput,
  ContextState,
  isCutPoint,
  jsonBytes,
  renderContext,
} from './context-plan';
import { chunked, transcript } from './context-window';

const tools = [{ name: 'lookup_order', description: 'Looks an order up.', input_schema: { type: 'object' } }];

/** A turn: the user's message, `uses` rounds of tool calls with their results, then the answer. */
function turn(n: number, uses: number, resultSize = 300): ChatMessage[] {
  const messages: ChatMessage[] = [{ role: 'user', content: `Question ${n}` }];
  for (let k = 0; k < uses; k += 1) {
    const id = `toolu_${n}_${k}`;
    messages.push({
      role: 'assistant',
      content: [{ type: 'tool_use', id, name: 'lookup_order', input: { n } }],
    });
    messages.push({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: id, content: `result ${n}.${k} `.padEnd(resultSize, 'x') },
      ],
    });
  }
  messages.push({ role: 'assistant', content: [{ type: 'text', text: `Answer ${n}` }] });
  return messages;
}

function conversation(turns: number, uses: number, resultSize?: number): ChatMessage[] {
  return Array.from({ length: turns }, (_, n) => turn(n, uses, resultSize)).flat();
}

function input(
  history: ChatMessage[],
  budget: number,
  newTurn: ChatMessage[] = [{ role: 'user', content: 'Next' }],
) {
  return {
    system: 'You help.',
    tools,
    history,
    turn: newTurn,
    maxTokens: 500,
    budget,
  } satisfies ContextInput;
}

const fresh: ContextState = { summary: null, clearedBefore: 0 };

/** The checks the provider makes of a history: a user message first, every tool_result answering a tool_use. */
function assertValidForProvider(messages: ChatMessage[]): void {
  expect(messages[0].role).toBe('user');
  messages.forEach((message, i) => {
    const blocks = typeof message.content === 'string' ? [] : message.content;
    const results = blocks.filter((b): b is ToolResultBlock => b.type === 'tool_result');
    if (results.length) {
      const previous = messages[i - 1];
      const offered = new Set(
        (previous && typeof previous.content !== 'string' ? previous.content : [])
          .filter((b): b is ToolUseBlock => b.type === 'tool_use')
          .map((b) => b.id),
      );
      for (const result of results) expect(offered.has(result.tool_use_id)).toBe(true);
    }
    const uses = blocks.filter((b): b is ToolUseBlock => b.type === 'tool_use');
    if (uses.length && messages[i + 1]) {
      const next = messages[i + 1].content;
      const answered = new Set(
        (typeof next === 'string' ? [] : next)
          .filter((b): b is ToolResultBlock => b.type === 'tool_result')
          .map((b) => b.tool_use_id),
      );
      for (const use of uses) expect(answered.has(use.id)).toBe(true);
    }
  });
}

describe('renderContext', () => {
  it('sends the whole history and the turn when nothing was compacted, sized by the request bound', () => {
    const history = conversation(2, 1);
    const rendered = renderContext(input(history, 100_000), fresh);
    expect(rendered.messages).toEqual([...history, { role: 'user', content: 'Next' }]);
    expect(rendered.compacted).toBe(false);
    expect(rendered.tokens).toBe(
      requestTokenBound({ system: 'You help.', tools, messages: rendered.messages, maxTokens: 500 }),
    );
  });

  it('puts the summary at the head, in the first user message or as one before an assistant message', () => {
    const history = conversation(2, 1);
    const atUser = renderContext(input(history, 100_000), {
      summary: { lastSeq: 3, text: 'S' },
      clearedBefore: 0,
    });
    expect(atUser.compacted).toBe(true);
    expect(atUser.messages[0]).toEqual({
      role: 'user',
      content: [
        expect.objectContaining({ type: 'text', text: expect.stringContaining('\nS\n') }),
        { type: 'text', text: 'Question 1' },
      ],
    });
    expect(atUser.messages).toHaveLength(history.length - 4 + 1);
    const atAssistant = renderContext(input(history, 100_000), {
      summary: { lastSeq: 0, text: 'S' },
      clearedBefore: 0,
    });
    expect(atAssistant.messages[0]).toEqual({
      role: 'user',
      content: [expect.objectContaining({ type: 'text' })],
    });
    expect(atAssistant.messages[1]).toBe(history[1]);
    assertValidForProvider(atAssistant.messages);
  });
});

describe('clearing old tool results', () => {
  it('clears the oldest first down to the target, keeping ids, error flags and every pair', () => {
    const history = conversation(6, 2, 600);
    const full = renderContext(input(history, 1), fresh).tokens;
    const target = Math.floor(full * 0.7);
    const position = clearingPosition(input(history, 1), fresh, target);
    const rendered = renderContext(input(history, 1), { summary: null, clearedBefore: position });
    expect(rendered.tokens).toBeLessThanOrEqual(target);
    expect(rendered.messages).toHaveLength(history.length + 1);
    const results = rendered.messages.flatMap((m) =>
      typeof m.content === 'string'
        ? []
        : m.content.filter((b): b is ToolResultBlock => b.type === 'tool_result'),
    );
    const cleared = results.filter((r) => r.content === CLEARED_TOOL_RESULT);
    expect(cleared.length).toBeGreaterThan(0);
    // The cleared ones are the oldest.
    expect(results.slice(0, cleared.length)).toEqual(cleared);
    assertValidForProvider(rendered.messages);
  });

  it('never clears the last tool results (the model has not answered them yet)', () => {
    const running = turn(9, 3).slice(0, -1);
    const position = clearingPosition(input([], 1, running), fresh, 0);
    const rendered = renderContext(input([], 1, running), { summary: null, clearedBefore: position });
    expect(JSON.stringify(rendered.messages.at(-1))).not.toContain(CLEARED_TOOL_RESULT);
    expect(JSON.stringify(rendered.messages.at(-3))).toContain(CLEARED_TOOL_RESULT);
  });

  it('does not move when the request already fits the target', () => {
    const history = conversation(3, 1);
    expect(clearingPosition(input(history, 1), fresh, 1_000_000)).toBe(0);
  });
});

describe('the compaction cut', () => {
  it('is a message the provider may start with: an assistant message or a user message without tool results', () => {
    expect(isCutPoint({ role: 'user', content: 'hi' })).toBe(true);
    expect(isCutPoint({ role: 'assistant', content: 'hi' })).toBe(true);
    expect(
      isCutPoint({ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'x', content: 'r' }] }),
    ).toBe(false);
  });

  it('is the earliest cut that brings the request to the target, and only within the stored history', () => {
    const history = conversation(8, 2);
    const full = renderContext(input(history, 1), fresh).tokens;
    const cut = compactionCut(input(history, 1), fresh, Math.floor(full / 2), 500)!;
    expect(cut).toBeGreaterThan(0);
    expect(cut).toBeLessThanOrEqual(history.length);
    expect(isCutPoint(history[cut])).toBe(true);
    const later = compactionCut(input(history, 1), fresh, Math.floor(full / 4), 500)!;
    expect(later).toBeGreaterThan(cut);
    // With no target reachable, the latest cut: only the running turn is kept.
    expect(compactionCut(input(history, 1), fresh, 0, 500)).toBe(history.length);
    // Nothing stored: nothing to summarise.
    expect(compactionCut(input([], 1), fresh, 0, 500)).toBeNull();
  });

  it('leaves a history the provider accepts, whatever the conversation and the target', () => {
    const conversations = fc.array(
      fc.record({ uses: fc.integer({ min: 0, max: 3 }), size: fc.integer({ min: 1, max: 400 }) }),
      {
        minLength: 1,
        maxLength: 12,
      },
    );
    fc.assert(
      fc.property(
        conversations,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        (turns, share, running) => {
          const history = turns.flatMap((t, n) => turn(n, t.uses, t.size));
          const newTurn = running ? turn(99, 2).slice(0, -1) : [{ role: 'user' as const, content: 'Next' }];
          const context = input(history, 1, newTurn);
          const full = renderContext(context, fresh).tokens;
          const cut = compactionCut(context, fresh, Math.floor(full * share), 200);
          const state: ContextState = {
            summary: cut === null ? null : { lastSeq: cut - 1, text: 'summary' },
            clearedBefore: 0,
          };
          const cleared = { ...state, clearedBefore: clearingPosition(context, state, 0) };
          assertValidForProvider(renderContext(context, state).messages);
          assertValidForProvider(renderContext(context, cleared).messages);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('summariser input', () => {
  it('transcribes who said what, each tool call by name and each result with its tool', () => {
    const lines = transcript(conversation(1, 1, 20), 0, 4);
    expect(lines).toEqual([
      'User: Question 0',
      'Assistant called lookup_order with {"n":0}',
      expect.stringMatching(/^lookup_order returned: result 0\.0 x+$/),
      'Assistant: Answer 0',
    ]);
  });

  it('chunks a transcript so that no chunk passes its byte limit, cutting a line too long for any chunk', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary', maxLength: 3000 }), { maxLength: 40 }),
        fc.integer({ min: 64, max: 4000 }),
        (lines, max) => {
          for (const chunk of chunked(lines, max)) {
            expect(chunk.reduce((n, line) => n + jsonBytes(line), 0)).toBeLessThanOrEqual(max);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('clips text to a JSON byte size, escapes and multi-byte characters included', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 500 }),
        fc.integer({ min: 2, max: 600 }),
        (text, max) => {
          const clipped = clipToJsonBytes(text, max);
          expect(jsonBytes(clipped)).toBeLessThanOrEqual(Math.max(max, 2));
          if (jsonBytes(text) <= max) expect(clipped).toBe(text);
        },
      ),
      { numRuns: 300 },
    );
  });
});
