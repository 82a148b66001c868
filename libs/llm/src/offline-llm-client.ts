// A deterministic demo model for running without an API key: it answers the usual demo questions by calling the
// built-in tools through the normal loop, words its answers from what they returned, and says it is not Claude.
import { Injectable } from '@nestjs/common';
import { AppConfig } from '@lib/core';
import type { ChatMessage, ContentBlock, TextBlock, ToolResultBlock, ToolUseBlock } from './content';
import { LlmClient, LlmRequest, LlmStreamEvent } from './llm-client';
import { LlmError } from './llm-error';
import { clip, describeStep, ToolStep } from './offline-demo-answers';
import { isPricingQuestion, planFor } from './offline-demo-plans';

export const OFFLINE_MODEL = 'offline-demo';
export const OFFLINE_LABEL = '[offline-demo] ';

const WORDS_PER_DELTA = 3;

interface Reply {
  text: string;
  toolUse?: { name: string; input: Record<string, unknown> };
}

@Injectable()
export class OfflineLlmClient extends LlmClient {
  readonly kind = 'offline-demo';

  constructor(private readonly config: AppConfig) {
    super();
  }

  /** Whatever the agent asks for: usage and the UI must not attribute these answers to Claude. */
  modelFor(_requested: string): string {
    return OFFLINE_MODEL;
  }

  async *stream(request: LlmRequest): AsyncGenerator<LlmStreamEvent> {
    const startedAt = performance.now();
    throwIfAborted(request.signal);
    const reply = compose(request);
    let firstDeltaAt: number | null = null;

    for (const [i, delta] of deltasOf(reply.text).entries()) {
      if (i > 0) await pause(this.config.offlineModelPaceMs, request.signal);
      throwIfAborted(request.signal);
      firstDeltaAt ??= performance.now();
      yield { type: 'text', text: delta };
    }
    throwIfAborted(request.signal);

    const content: Array<TextBlock | ToolUseBlock> = [{ type: 'text', text: reply.text }];
    if (reply.toolUse) {
      // The reply's position in the conversation keeps ids unique across its turns, and reproducible.
      const id = `toolu_offline_${String(request.messages.length).padStart(4, '0')}_${content.length}`;
      content.push({ type: 'tool_use', id, name: reply.toolUse.name, input: reply.toolUse.input });
    }
    const prompt = request.system + JSON.stringify(request.messages) + JSON.stringify(request.tools);
    const output = reply.text + (reply.toolUse ? JSON.stringify(reply.toolUse) : '');
    yield {
      type: 'result',
      result: {
        model: OFFLINE_MODEL,
        content,
        stop_reason: reply.toolUse ? 'tool_use' : 'end_turn',
        usage: {
          input_tokens: estimateTokens(prompt),
          output_tokens: estimateTokens(output),
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        },
        latency_ms: Math.round(performance.now() - startedAt),
        time_to_first_token_ms: firstDeltaAt === null ? null : Math.round(firstDeltaAt - startedAt),
      },
    };
  }
}

function compose(request: LlmRequest): Reply {
  const offered = new Set(request.tools.map((t) => t.name));
  const turn = currentTurn(request.messages);
  const latest = turn.latest.map(describeStep).join('\n\n');
  const plan = planFor(turn.question, offered);
  // It reads text only: say so once, on the first answer of a turn that came with images or documents.
  const unseen =
    turn.media && !turn.steps.length
      ? `I cannot see images or documents (${turn.media} attached); I answer from the text of your message.\n\n`
      : '';
  if (!plan) return { text: OFFLINE_LABEL + unseen + (latest || cannedReply(turn.question, offered)) };

  // A tool error ends the plan: the answer says what went wrong instead of carrying on without the facts.
  const failed = turn.latest.some((step) => step.result.is_error);
  const call = failed ? null : plan.next(turn.steps);
  if (call) {
    return {
      text: `${OFFLINE_LABEL}${unseen}${latest ? `${latest}\n\n` : ''}${call.lead}\n\n`,
      toolUse: { name: call.name, input: call.input },
    };
  }
  const concluded = turn.steps.length ? plan.conclude?.(turn.steps) : undefined;
  return { text: OFFLINE_LABEL + (concluded ?? (latest || cannedReply(turn.question, offered))) };
}

interface Turn {
  /** The text of the user message that started the turn. */
  question: string;
  /** Every tool call of the turn so far, with its result, in order. */
  steps: ToolStep[];
  /** The results the model has not answered yet (the last message's), with their calls when known. */
  latest: Array<ToolStep | { use: undefined; result: ToolResultBlock }>;
  /** Images and documents in the user message, which this model cannot read. */
  media: number;
}

function currentTurn(messages: ChatMessage[]): Turn {
  const isResults = (m: ChatMessage) => blocksOf(m).some((b) => b.type === 'tool_result');
  let start = messages.length - 1;
  while (start >= 0 && (messages[start].role !== 'user' || isResults(messages[start]))) start -= 1;
  const question = blocksOf(messages[start])
    .filter((b): b is TextBlock => b.type === 'text')
    .map((b) => b.text)
    .join('\n')
    .trim();
  const media = blocksOf(messages[start]).filter((b) => b.type === 'image' || b.type === 'document').length;

  const uses = new Map<string, ToolUseBlock>();
  const steps: ToolStep[] = [];
  let latest: Turn['latest'] = [];
  for (const message of messages.slice(start + 1)) {
    const results: Turn['latest'] = [];
    for (const block of blocksOf(message)) {
      if (block.type === 'tool_use') uses.set(block.id, block);
      if (block.type !== 'tool_result') continue;
      const use = uses.get(block.tool_use_id);
      if (use) steps.push({ use, result: block });
      results.push(use ? { use, result: block } : { use: undefined, result: block });
    }
    latest = message.role === 'user' ? results : [];
  }
  return { question, steps, latest, media };
}

const EXAMPLES: Array<[string, string]> = [
  ['search_knowledge_base', '"What is your refund policy?"'],
  ['lookup_order', '"Where is order 1001?"'],
  ['create_support_ticket', '"Create a ticket: my order 1002 arrived broken"'],
  ['calculator', '"What is 17% of 2350?"'],
  ['get_pricing', '"Compare your plans" or "How much for 12 seats?"'],
  ['get_product_catalog', '"What products do you sell?"'],
  ['get_current_time', '"What time is it?"'],
];

function cannedReply(text: string, offered: Set<string>): string {
  const intro =
    'I am the offline demo model: this answer does not come from Claude, because no Anthropic API key is configured.';
  if (isPricingQuestion(text) && !offered.has('get_pricing')) {
    return (
      `${intro} This agent has no pricing tool, so I cannot quote plans or seats here: ask an agent that has ` +
      'get_pricing, such as the built-in "sales" agent (send "agent_name": "sales"; GET /v1/agents lists every ' +
      "agent's tools)."
    );
  }
  const heard = text
    ? `You wrote: "${clip(text.replace(/\s+/g, ' '), 160)}", which none of my rules covers.`
    : 'Your message had no text in it.';
  const examples = EXAMPLES.filter(([tool]) => offered.has(tool)).map(([, example]) => example);
  const can = examples.length
    ? `I answer from this agent's tools; try ${joinList(examples)}.`
    : 'This agent gives me no tools I know how to use, so I cannot look anything up.';
  return [intro, heard, can].join(' ');
}

function blocksOf(message: ChatMessage | undefined): ContentBlock[] {
  if (!message) return [];
  return typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : message.content;
}

/** A few words per delta, whitespace kept, so the deltas join back into the text exactly. */
function deltasOf(text: string): string[] {
  const words = text.match(/\s*\S+\s*/g) ?? [text];
  const deltas: string[] = [];
  for (let i = 0; i < words.length; i += WORDS_PER_DELTA)
    deltas.push(words.slice(i, i + WORDS_PER_DELTA).join(''));
  return deltas;
}

function joinList(items: string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new LlmError('aborted', 'The model call was cancelled.');
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
