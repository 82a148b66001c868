// The fake Anthropic Messages API of test/support (compiled by the bench into .build/), answering every
// request from the directive in its first user message: timing, reply length, and one tool call. With
// FAKE_PROMPT_CACHE_MIN_TOKENS set it emulates the provider's prompt cache (the prompt-cache scenario's own fake),
// and answers that scenario's conversation (see lib/long-conversation.js).
'use strict';
const path = require('node:path');
const { serve, ready, exitWithParent } = require('../lib/child');
const { parseDirective, replyText } = require('../lib/directive');
const { conversationReply } = require('../lib/long-conversation');

const { FakeAnthropic } = require(path.join(__dirname, '..', '.build', 'fake-anthropic.js'));

function textOf(content) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((b) => (b && b.type === 'text' ? b.text : '')).join(' ');
}

async function main() {
  const cacheMin = process.env.FAKE_PROMPT_CACHE_MIN_TOKENS;
  const fake = await FakeAnthropic.start({
    recordRequests: false,
    port: Number(process.env.PORT || 0),
    ...(cacheMin ? { promptCache: { minTokens: Number(cacheMin) } } : {}),
  });
  let served = 0;
  let connections = 0;
  // Private in TypeScript only: how many TCP connections clients opened tells whether they keep them alive.
  fake.server.on('connection', () => (connections += 1));
  fake.respondWith((request) => {
    served += 1;
    const messages = request.body.messages;
    const conversation = conversationReply(messages, replyText);
    if (conversation) return conversation;
    const firstUser = messages.find((m) => m.role === 'user');
    const d = parseDirective(textOf(firstUser && firstUser.content));
    const last = messages[messages.length - 1];
    const afterTool = Array.isArray(last.content) && last.content.some((b) => b.type === 'tool_result');
    const timing = { firstByteDelayMs: d.firstByteMs, eventDelayMs: d.eventDelayMs };
    if (d.tool && !afterTool) {
      // The app's calculator; a target without one (the Python design) gets its own first tool, no arguments.
      const tools = request.body.tools || [];
      const toolUse = tools.some((t) => t.name === 'calculator')
        ? { name: 'calculator', input: { expression: '(99 + 2 * 9) * 12' } }
        : { name: tools[0].name, input: {} };
      return { ...timing, toolUses: [toolUse] };
    }
    return { ...timing, text: replyText(d.tokens), chunkSize: 4 };
  });
  serve({ stats: () => ({ served, connections, inFlight: fake.inFlight, aborted: fake.aborted }) });
  exitWithParent();
  ready({ url: fake.url });
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
