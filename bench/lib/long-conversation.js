// The prompt-cache scenario: one conversation driven turn by turn over REST, some turns with a tool call, and what
// its turns read from the provider's prompt cache and cost. The fake provider (with its prefix cache on) answers
// from the marker in each message: a turn whose message says `[tool]` calls the calculator first.
'use strict';

const MARKER = '[bench conversation]';

/** The message of turn `turn` (0-based): the marker, the tool flag, and some text a customer would write. */
function conversationMessage(turn, tool) {
  return `${MARKER}${tool ? ' [tool]' : ''} Turn ${turn + 1}: I have another question about order ${1000 + turn}, its delivery and what it will cost me.`;
}

/** What the fake provider answers to a request of this scenario, or null when the request is not one of it. */
function conversationReply(messages, replyText) {
  const first = messages.find((m) => m.role === 'user');
  if (!first || !textOf(first.content).includes(MARKER)) return null;
  const last = messages[messages.length - 1];
  const afterTool = Array.isArray(last.content) && last.content.some((b) => b.type === 'tool_result');
  if (!afterTool && textOf(last.content).includes('[tool]')) {
    return {
      toolUses: [{ name: 'calculator', input: { expression: `round(${messages.length} * 12.5 * 1.2, 2)` } }],
    };
  }
  return { text: replyText(60), chunkSize: 4 };
}

function textOf(content) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((b) => (b && b.type === 'text' ? b.text : '')).join(' ');
}

/** The turns whose message asks for a tool: `count` of them spread over `turns`, never the first. */
function toolTurns(turns, count) {
  const every = Math.max(1, Math.floor((turns - 1) / count));
  return new Set(Array.from({ length: count }, (_, i) => 1 + i * every).filter((t) => t < turns));
}

/** Runs one conversation of `turns` turns on the app at `url`; each turn's ChatResponse figures, in order. */
async function driveConversation(url, apiKey, { turns, tools }) {
  const withTool = toolTurns(turns, tools);
  const perTurn = [];
  let conversationId;
  for (let turn = 0; turn < turns; turn += 1) {
    const res = await fetch(`${url}/v1/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        message: conversationMessage(turn, withTool.has(turn)),
        ...(conversationId ? { conversation_id: conversationId } : { agent_name: 'support' }),
      }),
    });
    const body = await res.json();
    if (res.status !== 200)
      throw new Error(`turn ${turn + 1} answered ${res.status}: ${JSON.stringify(body)}`);
    conversationId = body.conversation_id;
    perTurn.push({
      tools: body.tools_used.length,
      input: body.input_tokens,
      output: body.output_tokens,
      cacheRead: body.cache_read_input_tokens,
      cacheWrite: body.cache_creation_input_tokens,
      contextTokens: body.context_tokens,
      compacted: body.compacted,
      costUsd: body.cost_usd,
    });
  }
  return perTurn;
}

/** The conversation's figures: the share of input read from the cache from turn 2 on, and its whole cost. */
function cacheFigures(perTurn) {
  const sum = (rows, key) => rows.reduce((n, r) => n + r[key], 0);
  const later = perTurn.slice(1);
  const laterInput = sum(later, 'input');
  return {
    turns: perTurn.length,
    toolCalls: sum(perTurn, 'tools'),
    inputTokens: sum(perTurn, 'input'),
    outputTokens: sum(perTurn, 'output'),
    cacheReadTokens: sum(perTurn, 'cacheRead'),
    cacheWriteTokens: sum(perTurn, 'cacheWrite'),
    readRatioFromTurn2: laterInput ? sum(later, 'cacheRead') / laterInput : null,
    lastContextTokens: perTurn.length ? perTurn[perTurn.length - 1].contextTokens : null,
    compactedTurns: perTurn.filter((r) => r.compacted).length,
    costUsd: Math.round(sum(perTurn, 'costUsd') * 1e6) / 1e6,
  };
}

module.exports = {
  conversationMessage,
  conversationReply,
  toolTurns,
  driveConversation,
  cacheFigures,
  MARKER,
};
