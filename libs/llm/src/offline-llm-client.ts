// A deterministic demo model for running without an API key: it follows a few visible rules and says it is not Claude.
import { Injectable } from '@nestjs/common';
import { AppConfig } from '@lib/core';
import type { ChatMessage, ContentBlock, TextBlock, ToolResultBlock, ToolUseBlock } from './content';
import { LlmClient, LlmRequest, LlmStreamEvent } from './llm-client';
import { LlmError } from './llm-error';

export const OFFLINE_MODEL = 'offline-demo';
export const OFFLINE_LABEL = '[offline-demo] ';

const WORDS_PER_DELTA = 3;
const ORDER_NUMBER = /\border\s*(?:number|no\.?|id)?\s*[:#]?\s*#?\s*(\d{3,})/i;
const HOW_TO = /\bhow\s+(?:(?:do|can|could|should|would)\s+(?:i|we|you|one)|to)\s+([^?.!\n]+)/i;
const EXPRESSION_CANDIDATE = /[\d(][\d\s.+\-*/×÷^%()]*[\d)]/g;
const OPERATOR_BETWEEN_NUMBERS = /\d\s*\)*\s*[-+*/×÷^%]\s*\(*\s*-?\d/;

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
  const lastUser = [...request.messages].reverse().find((m) => m.role === 'user');
  const blocks = blocksOf(lastUser);
  const results = blocks.filter((b): b is ToolResultBlock => b.type === 'tool_result');
  if (results.length) return { text: OFFLINE_LABEL + summariseResults(results, request.messages) };
  const text = blocks
    .filter((b): b is TextBlock => b.type === 'text')
    .map((b) => b.text)
    .join('\n')
    .trim();
  return answerText(text, new Set(request.tools.map((t) => t.name)));
}

function answerText(text: string, offered: Set<string>): Reply {
  const order = ORDER_NUMBER.exec(text);
  if (order && offered.has('lookup_order')) {
    return {
      text: `${OFFLINE_LABEL}Let me look up order ${order[1]}.\n\n`,
      toolUse: { name: 'lookup_order', input: { order_number: order[1] } },
    };
  }
  const expression = findExpression(text);
  if (expression && offered.has('calculator')) {
    return {
      text: `${OFFLINE_LABEL}Let me calculate ${expression}.\n\n`,
      toolUse: { name: 'calculator', input: { expression } },
    };
  }
  const howTo = HOW_TO.exec(text);
  if (howTo && offered.has('search_knowledge_base')) {
    const query = howTo[1].trim().replace(/\s+/g, ' ');
    return {
      text: `${OFFLINE_LABEL}Let me search the knowledge base for "${query}".\n\n`,
      toolUse: { name: 'search_knowledge_base', input: { query } },
    };
  }
  return { text: OFFLINE_LABEL + cannedReply(text, offered) };
}

function cannedReply(text: string, offered: Set<string>): string {
  const heard = text
    ? `You wrote: "${clip(text.replace(/\s+/g, ' '), 160)}".`
    : 'Your message had no text in it.';
  const skills = [
    offered.has('lookup_order') && 'look up an order by its number ("Where is order 1001?")',
    offered.has('calculator') && 'work out arithmetic ("What is 12 * (3 + 4)?")',
    offered.has('search_knowledge_base') &&
      'search the knowledge base for how-to questions ("How do I reset my password?")',
  ].filter((s): s is string => typeof s === 'string');
  const can = skills.length
    ? `I only follow a few fixed rules: I can ${joinList(skills)}.`
    : 'This agent gives me no tools I know how to use, so I cannot look anything up.';
  return [
    'I am the offline demo model: this answer does not come from Claude, because no Anthropic API key is configured.',
    heard,
    can,
  ].join(' ');
}

function summariseResults(results: ToolResultBlock[], messages: ChatMessage[]): string {
  const uses = new Map<string, ToolUseBlock>();
  for (const message of messages) {
    for (const block of blocksOf(message)) if (block.type === 'tool_use') uses.set(block.id, block);
  }
  return results.map((result) => describeResult(result, uses.get(result.tool_use_id))).join('\n\n');
}

function describeResult(result: ToolResultBlock, use: ToolUseBlock | undefined): string {
  const tool = use ? `the ${use.name} tool` : 'the tool';
  if (result.is_error) {
    const reason = clip(result.content.trim().replace(/[.!\s]+$/, ''), 300) || 'it gave no details';
    return `Sorry, ${tool} reported an error: ${reason}. Please check your request and try again.`;
  }
  const value = parseJson(result.content);
  const input = use?.input ?? {};

  if (use?.name === 'calculator' && typeof input.expression === 'string') {
    const answer = isRecord(value) && 'result' in value ? value.result : value;
    if (typeof answer === 'number' || typeof answer === 'string') return `${input.expression} = ${answer}.`;
  }
  const heading =
    use?.name === 'lookup_order' && input.order_number !== undefined
      ? `Here is what I found for order ${String(input.order_number)}:`
      : use?.name === 'search_knowledge_base' && typeof input.query === 'string'
        ? `Here is what the knowledge base says about "${input.query}":`
        : `Here is what ${tool} returned:`;
  return `${heading}\n${formatValue(value)}`;
}

/** Renders a tool's JSON for a reader: fields as lines, lists as bullets, nothing nested deeper than a line. */
function formatValue(value: unknown): string {
  if (Array.isArray(value)) {
    if (!value.length) return 'Nothing was found.';
    const shown = value.slice(0, 5).map((item) => `- ${summariseItem(item)}`);
    if (value.length > 5) shown.push(`…and ${value.length - 5} more.`);
    return shown.join('\n');
  }
  if (isRecord(value)) {
    const entries = Object.entries(value);
    // A wrapper such as {"results": [...]} reads better as the list itself.
    if (entries.length === 1 && Array.isArray(entries[0][1])) return formatValue(entries[0][1]);
    if (!entries.length) return 'No details were returned.';
    return entries
      .slice(0, 10)
      .map(([key, field]) => `- ${humanise(key)}: ${inline(field)}`)
      .join('\n');
  }
  return clip(inline(value), 600);
}

function summariseItem(item: unknown): string {
  if (!isRecord(item)) return inline(item);
  const title = ['title', 'name', 'question', 'id'].map((k) => item[k]).find((v) => typeof v === 'string');
  const detail = ['snippet', 'summary', 'description', 'answer', 'content', 'body']
    .map((k) => item[k])
    .find((v) => typeof v === 'string');
  if (title && detail) return `${title}: ${clip(detail, 200)}`;
  if (title || detail) return clip((title ?? detail) as string, 200);
  return inline(item);
}

function inline(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  if (typeof value === 'string') return clip(value, 200);
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value)) {
    if (!value.length) return 'none';
    return value.every((v) => !isRecord(v) && !Array.isArray(v))
      ? clip(value.map((v) => inline(v)).join(', '), 200)
      : `${value.length} item${value.length === 1 ? '' : 's'}`;
  }
  const scalars = Object.entries(value).filter(([, v]) => v === null || typeof v !== 'object');
  return (
    clip(scalars.map(([k, v]) => `${humanise(k).toLowerCase()} ${inline(v)}`).join(', '), 200) || 'details'
  );
}

function humanise(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function findExpression(text: string): string | undefined {
  for (const candidate of text.match(EXPRESSION_CANDIDATE) ?? []) {
    const expression = candidate.trim();
    if (OPERATOR_BETWEEN_NUMBERS.test(expression) && balanced(expression)) {
      return expression.replace(/×/g, '*').replace(/÷/g, '/');
    }
  }
  return undefined;
}

function balanced(expression: string): boolean {
  let depth = 0;
  for (const char of expression) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (depth < 0) return false;
  }
  return depth === 0;
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

function parseJson(content: string): unknown {
  try {
    return JSON.parse(content);
  } catch {
    return content;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function joinList(items: string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
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
