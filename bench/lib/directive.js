// The scenario a request asks the fake provider for, carried in the user message so every path (app,
// baselines, tasks) forwards it unchanged: first-byte delay, pause between events, tokens, and a tool call.
'use strict';

const PATTERN = /\[bench fb=(\d+) ed=(\d+) n=(\d+) tool=([01])\]/;

function directive({ firstByteMs = 0, eventDelayMs = 0, tokens = 16, tool = false }) {
  return `[bench fb=${firstByteMs} ed=${eventDelayMs} n=${tokens} tool=${tool ? 1 : 0}] Where is order 1001?`;
}

function parseDirective(text) {
  const match = PATTERN.exec(text);
  if (!match) return { firstByteMs: 0, eventDelayMs: 0, tokens: 16, tool: false };
  return {
    firstByteMs: Number(match[1]),
    eventDelayMs: Number(match[2]),
    tokens: Number(match[3]),
    tool: match[4] === '1',
  };
}

/** The fake writes message_start at the first byte, then waits one pace before ping, block start and delta. */
function nominalFirstTokenMs(d) {
  return d.firstByteMs + 3 * d.eventDelayMs;
}

/** Every delta is one four-character token, so `tokens` deltas. */
const replyText = (tokens) => 'tok '.repeat(tokens);

module.exports = { directive, parseDirective, nominalFirstTokenMs, replyText };
