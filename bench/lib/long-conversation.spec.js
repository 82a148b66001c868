// The prompt-cache scenario's own logic: which turns call a tool, what the fake answers, and the figures.
'use strict';
const { cacheFigures, conversationMessage, conversationReply, toolTurns } = require('./long-conversation');

const reply = (n) => 'tok '.repeat(n);

describe('the prompt-cache scenario', () => {
  it('spreads the tool calls over the turns, never on the first', () => {
    expect([...toolTurns(10, 3)]).toEqual([1, 4, 7]);
    expect(toolTurns(10, 3).has(0)).toBe(false);
    expect(toolTurns(40, 10).size).toBe(10);
  });

  it('has the fake call the calculator on a [tool] turn, then answer; plain turns are answered at once', () => {
    const toolTurn = [{ role: 'user', content: conversationMessage(1, true) }];
    expect(conversationReply(toolTurn, reply).toolUses[0].name).toBe('calculator');
    const afterTool = [
      ...toolTurn,
      { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'calculator', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: '1' }] },
    ];
    expect(conversationReply(afterTool, reply).text).toBe(reply(60));
    expect(conversationReply([{ role: 'user', content: conversationMessage(0, false) }], reply).text).toBe(
      reply(60),
    );
    expect(conversationReply([{ role: 'user', content: 'another scenario' }], reply)).toBeNull();
  });

  it('reads the share of input from the cache from the second turn on, and sums the cost', () => {
    const turn = (input, cacheRead, costUsd, tools = 0) => ({
      tools,
      input,
      output: 10,
      cacheRead,
      cacheWrite: 0,
      contextTokens: input,
      compacted: false,
      costUsd,
    });
    const figures = cacheFigures([turn(1000, 0, 0.01), turn(1100, 1000, 0.002, 1), turn(1200, 1100, 0.002)]);
    expect(figures).toMatchObject({
      turns: 3,
      toolCalls: 1,
      inputTokens: 3300,
      cacheReadTokens: 2100,
      costUsd: 0.014,
    });
    expect(figures.readRatioFromTurn2).toBeCloseTo(2100 / 2300, 10);
  });
});
