// The Anthropic adapter: one SDK client per API key, streamed Messages API calls, provider failures classified as
// LlmError. It makes exactly one attempt: retries, the key pool and rate limits are ResilientLlmClient's.
import Anthropic, {
  AnthropicError,
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from '@anthropic-ai/sdk';
import type { Logger as SdkLogger } from '@anthropic-ai/sdk/client';
import { format } from 'node:util';
import { Injectable, Logger } from '@nestjs/common';
import { AppConfig, tracingActive } from '@lib/core';
import type { AssistantBlock, ChatMessage, ContentBlock, MediaSource, TextBlock } from './content';
import { LlmClient, LlmRequest, LlmResult, LlmStreamEvent, LlmUsage } from './llm-client';
import { withCacheBreakpoints } from './cache-breakpoints';
import { LlmError } from './llm-error';
import { contextOverflowOf } from './prompt-too-long';
import { nodeFetch } from './node-fetch';

type MessageParam = Anthropic.Messages.MessageParam;
type ContentBlockParam = Anthropic.Messages.ContentBlockParam;
type StreamParams = Anthropic.Messages.MessageCreateParamsStreaming;
type RawEvent = Anthropic.Messages.RawMessageStreamEvent;

/** Error codes of a 429 that is a spend limit, not a rate: waiting a minute does not help. */
const SPEND_LIMIT_CODES = new Set(['contract_spend_limit_reached', 'enforced_spend_limit_reached']);
const SPEND_LIMIT_WORDING = /spend(ing)? limit|usage limit|credit balance|billing/i;

export interface AnthropicClientOptions {
  /** The key this client calls with; ANTHROPIC_API_KEY by default. */
  apiKey?: string;
  /**
   * The SDK's own retries: 0 by default, because ResilientLlmClient retries (with full jitter, another key
   * and the shared rate limit); both retrying would multiply the attempts.
   */
  maxRetries?: number;
}

@Injectable()
export class AnthropicLlmClient extends LlmClient {
  readonly kind = 'anthropic';
  private readonly logger = new Logger(AnthropicLlmClient.name);
  private readonly client: Anthropic;

  constructor(
    private readonly config: AppConfig,
    options: AnthropicClientOptions = {},
  ) {
    super();
    this.client = new Anthropic({
      apiKey: options.apiKey ?? config.anthropicApiKey,
      // null, not undefined: the SDK would otherwise read ANTHROPIC_BASE_URL itself, behind the config's back.
      baseURL: config.anthropicBaseUrl ?? null,
      maxRetries: options.maxRetries ?? 0,
      timeout: config.llmTimeoutMs,
      logger: sdkLogger(this.logger),
      // Node streams under the SDK instead of fetch's web streams: about half the SDK's CPU per call (node-fetch.ts).
      ...(config.llmHttpClient === 'fetch' ? {} : { fetch: nodeFetch() as unknown as typeof fetch }),
      // The SDK's own client spans (under `llm.call`) and trace-context headers only while tracing is on: with
      // no OpenTelemetry SDK registered they would be built for a no-op tracer on every call.
      ...(tracingActive() ? {} : { openTelemetry: { traces: false, propagation: false } }),
    });
  }

  modelFor(requested: string): string {
    return requested || this.config.anthropicModel;
  }

  async *stream(request: LlmRequest): AsyncGenerator<LlmStreamEvent> {
    const startedAt = performance.now();
    let firstDeltaAt: number | null = null;
    // The raw event stream (`stream: true`), not the SDK's MessageStream helper: the adapter assembles the blocks
    // and the message itself, and skips the helper's per-delta snapshot and event emitter.
    const controller = new AbortController();
    const onCallerAbort = () => controller.abort();
    if (request.signal?.aborted) controller.abort();
    else request.signal?.addEventListener('abort', onCallerAbort, { once: true });
    // The SDK's timeout stops at the response headers; a stream that goes quiet afterwards would hang forever.
    const watchdog = new StallWatchdog(this.config.llmTimeoutMs, () => controller.abort());
    const blocks = new BlockAssembler();
    const message = new MessageAssembler();
    let result: LlmResult;
    try {
      const stream = await this.client.messages.create(this.paramsFor(request), {
        signal: controller.signal,
      });
      watchdog.touch();
      for await (const event of stream) {
        watchdog.touch();
        if (event.type === 'content_block_delta' && firstDeltaAt === null) firstDeltaAt = performance.now();
        const delta = blocks.add(event);
        if (delta?.text) yield { type: 'text', text: delta.text };
        else if (delta?.thinking) yield { type: 'thinking', thinking: delta.thinking };
        else message.add(event);
      }
      // An abort ends the SDK's iterator quietly; so might a connection closed early: only message_stop is an end.
      if (!message.stopped) throw new StreamEndedEarly();
      const finishedAt = performance.now();
      result = {
        model: message.model,
        content: blocks.content(message.stopReason === 'max_tokens'),
        stop_reason: message.stopReason,
        usage: message.usage,
        latency_ms: Math.round(finishedAt - startedAt),
        time_to_first_token_ms: firstDeltaAt === null ? null : Math.round(firstDeltaAt - startedAt),
      };
    } catch (error) {
      const failure = this.toLlmError(error, {
        stalled: watchdog.fired,
        callerAborted: request.signal?.aborted === true,
      });
      // Once message_start has arrived the provider bills the call, finished or not: say what it cost so far.
      if (message.started && !failure.partial) {
        const output = message.reportedOutput ?? estimateOutputTokens(blocks.streamed());
        failure.partial = {
          model: message.model,
          usage: { ...message.usage, output_tokens: Math.max(message.usage.output_tokens, output) },
          outputEstimated: message.reportedOutput === undefined,
          latency_ms: Math.round(performance.now() - startedAt),
          time_to_first_token_ms: firstDeltaAt === null ? null : Math.round(firstDeltaAt - startedAt),
        };
      }
      throw failure;
    } finally {
      watchdog.stop();
      request.signal?.removeEventListener('abort', onCallerAbort);
      // Reached early when the consumer stops reading: the HTTP request must not outlive it.
      if (!message.stopped) controller.abort();
    }
    yield { type: 'result', result };
  }

  private paramsFor(request: LlmRequest): StreamParams {
    const params = this.plainParamsFor(request);
    return this.config.promptCaching === false ? params : withCacheBreakpoints(params);
  }

  private plainParamsFor(request: LlmRequest): StreamParams {
    return {
      model: this.modelFor(request.model),
      max_tokens: request.maxTokens,
      stream: true,
      // No `temperature`: this SDK sends anthropic-version 2026-10-21, which answers 400 to any sampling
      // parameter ("Extra inputs are not permitted"), and its types no longer have one.
      // Thinking leaves `tool_choice` at its default (`auto`): the provider refuses a forced tool with thinking.
      ...(request.thinking
        ? { thinking: { type: 'enabled' as const, budget_tokens: request.thinking.budgetTokens } }
        : {}),
      ...(request.system ? { system: request.system } : {}),
      messages: request.messages.map(toMessageParam),
      ...(request.tools.length
        ? {
            tools: request.tools.map((tool) => ({
              name: tool.name,
              description: tool.description,
              input_schema: tool.input_schema as Anthropic.Messages.Tool.InputSchema,
            })),
          }
        : {}),
    };
  }

  private toLlmError(error: unknown, context: { stalled: boolean; callerAborted: boolean }): LlmError {
    if (error instanceof LlmError) return error;
    if (context.stalled) {
      return withCause(
        new LlmError(
          'connection',
          `The model provider sent nothing for ${Math.round(this.config.llmTimeoutMs / 1000)} s, so the answer was abandoned.`,
        ),
        error,
      );
    }
    if (error instanceof APIUserAbortError || context.callerAborted) {
      return withCause(new LlmError('aborted', 'The model call was cancelled.'), error);
    }
    if (error instanceof APIConnectionTimeoutError) {
      return withCause(new LlmError('connection', 'The model provider did not answer in time.'), error);
    }
    if (error instanceof APIConnectionError) {
      return withCause(new LlmError('connection', 'The model provider could not be reached.'), error);
    }
    if ((error as { name?: unknown } | null)?.name === 'SyntaxError') {
      return withCause(
        new LlmError('server_error', 'The model provider sent a malformed stream event.'),
        error,
      );
    }
    if (error instanceof APIError)
      return withCause(withContextOverflow(classifyApiError(error), error), error);
    if (error instanceof AnthropicError || error instanceof StreamEndedEarly || isFetchTermination(error)) {
      if (error instanceof AnthropicError && error.cause instanceof SyntaxError) {
        return withCause(
          new LlmError('server_error', 'The model provider sent a malformed stream event.'),
          error,
        );
      }
      return withCause(
        new LlmError(
          'connection',
          'The connection to the model provider was lost before the answer was complete.',
        ),
        error,
      );
    }
    this.logger.error(`Unexpected failure during a model call: ${String(error)}`);
    return withCause(new LlmError('server_error', 'The model call failed unexpectedly.'), error);
  }
}

/** Maps an HTTP error, or an SSE `error` event (no status), onto an error kind. */
function classifyApiError(error: APIError): LlmError {
  const status = error.status;
  const type = error.type ?? errorTypeOf(error.error);
  const requestRef = error.requestID ? ` (request ${error.requestID})` : '';
  const providerSays = error.apiMessage ? `: ${redact(error.apiMessage)}` : '.';

  if (status === undefined) {
    // An `error` event after HTTP 200: the status is gone, the type says what happened.
    switch (type) {
      case 'overloaded_error':
        return new LlmError(
          'overloaded',
          `The model provider is overloaded and stopped mid-answer${requestRef}.`,
        );
      case 'rate_limit_error':
        return new LlmError(
          'rate_limited',
          `The model provider's rate limit stopped the answer${requestRef}.`,
        );
      case 'invalid_request_error':
        return new LlmError(
          'invalid_request',
          `The model provider rejected the request mid-answer${providerSays}`,
        );
      default:
        return new LlmError('server_error', `The model provider failed mid-answer${requestRef}.`);
    }
  }
  if (status === 429) {
    const spendLimit =
      (error.errorCode !== null && SPEND_LIMIT_CODES.has(error.errorCode)) ||
      SPEND_LIMIT_WORDING.test(error.apiMessage ?? '');
    if (spendLimit) {
      return new LlmError(
        'billing',
        `The model provider's spend limit has been reached${requestRef}.`,
        status,
      );
    }
    return new LlmError(
      'rate_limited',
      `The model provider's rate limit was reached${requestRef}.`,
      status,
      retryAfterSeconds(error.headers),
    );
  }
  if (status === 529) {
    return new LlmError(
      'overloaded',
      `The model provider is overloaded${requestRef}.`,
      status,
      retryAfterSeconds(error.headers),
    );
  }
  if (status === 401 || status === 403) {
    return new LlmError(
      'authentication',
      status === 401
        ? `The model provider rejected the API key${requestRef}.`
        : `The API key is not allowed to use this model or resource${requestRef}.`,
      status,
    );
  }
  if (status === 402) {
    return new LlmError(
      'billing',
      `The model provider refused the call for billing reasons${requestRef}.`,
      status,
    );
  }
  if (status >= 500 || status === 408 || status === 409) {
    return new LlmError(
      'server_error',
      `The model provider failed with status ${status}${requestRef}.`,
      status,
      retryAfterSeconds(error.headers),
    );
  }
  return new LlmError(
    'invalid_request',
    `The model provider rejected the request (${status})${providerSays}`,
    status,
  );
}

/** A 400 that says the prompt is longer than the model's window carries the provider's counts. */
function withContextOverflow(failure: LlmError, error: APIError): LlmError {
  if (failure.kind === 'invalid_request') failure.contextOverflow = contextOverflowOf(error.apiMessage);
  return failure;
}

function errorTypeOf(body: unknown): string | null {
  const type = (body as { error?: { type?: unknown } } | undefined)?.error?.type;
  return typeof type === 'string' ? type : null;
}

function retryAfterSeconds(headers: Headers | undefined): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms / 1000;
  const raw = headers?.get('retry-after');
  if (!raw) return undefined;
  const seconds = Number.parseFloat(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** Provider messages can quote what was sent; keep anything shaped like a key out of ours. */
function redact(text: string): string {
  const clipped = text.length > 300 ? `${text.slice(0, 300)}…` : text;
  return clipped.replace(/\b(sk-ant-|sk-)[A-Za-z0-9_-]{8,}/g, '$1[redacted]');
}

/**
 * undici's own error for a body cut mid-way (the raw stream passes it through): fetch's TypeError("terminated"), or
 * under nodeFetch undici's socket and body errors (`UND_ERR_*` codes).
 */
function isFetchTermination(error: unknown): boolean {
  // Duck-typed: fetch's errors come from Node's own realm, where `instanceof` can fail.
  const { name, message, code } = (error ?? {}) as { name?: unknown; message?: unknown; code?: unknown };
  if (typeof code === 'string' && code.startsWith('UND_ERR_')) return true;
  return (
    name === 'TypeError' && typeof message === 'string' && /terminated|fetch failed|socket/i.test(message)
  );
}

function withCause(error: LlmError, cause: unknown): LlmError {
  error.cause = cause;
  return error;
}

function toMessageParam(message: ChatMessage): MessageParam {
  if (typeof message.content === 'string') return { role: message.role, content: message.content };
  return { role: message.role, content: message.content.map(toBlockParam) };
}

function toBlockParam(block: ContentBlock): ContentBlockParam {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: block.text };
    case 'tool_use':
      return { type: 'tool_use', id: block.id, name: block.name, input: block.input };
    case 'tool_result':
      return {
        type: 'tool_result',
        tool_use_id: block.tool_use_id,
        content: block.content,
        ...(block.is_error ? { is_error: true } : {}),
      };
    // Signed by the provider: sent back exactly as received, or it refuses the request.
    case 'thinking':
      return { type: 'thinking', thinking: block.thinking, signature: block.signature };
    case 'redacted_thinking':
      return { type: 'redacted_thinking', data: block.data };
    case 'image':
      return { type: 'image', source: imageSource(block.source) };
    case 'document':
      return {
        type: 'document',
        source: documentSource(block.source),
        ...(block.title ? { title: block.title } : {}),
      };
  }
}

function imageSource(source: MediaSource): Anthropic.Messages.ImageBlockParam['source'] {
  if (source.type === 'url') return { type: 'url', url: source.url };
  return {
    type: 'base64',
    media_type: source.media_type as Anthropic.Messages.Base64ImageSource['media_type'],
    data: source.data,
  };
}

function documentSource(source: MediaSource): Anthropic.Messages.DocumentBlockParam['source'] {
  if (source.type === 'url') return { type: 'url', url: source.url };
  return { type: 'base64', media_type: 'application/pdf', data: source.data };
}

/** The stream closed before its `message_stop`. */
class StreamEndedEarly extends Error {
  constructor() {
    super('The stream ended before message_stop.');
  }
}

/**
 * The message-level events: model and usage from `message_start`, stop reason and the final usage from
 * `message_delta` (whose counters are whole-message totals: they replace, never add), the end at `message_stop`.
 */
class MessageAssembler {
  model = '';
  stopReason = 'end_turn';
  /** `message_start` arrived: from here on the call is billed. */
  started = false;
  stopped = false;
  /** The output count of the last `message_delta`; undefined before one (message_start's count is a placeholder). */
  reportedOutput: number | undefined;
  readonly usage: LlmUsage = {
    input_tokens: 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };

  add(event: RawEvent): void {
    switch (event.type) {
      case 'message_start':
        this.started = true;
        this.model = event.message.model;
        this.takeUsage(event.message.usage);
        return;
      case 'message_delta':
        if (event.delta.stop_reason) this.stopReason = event.delta.stop_reason;
        this.takeUsage(event.usage);
        if (typeof event.usage.output_tokens === 'number') this.reportedOutput = event.usage.output_tokens;
        return;
      case 'message_stop':
        this.stopped = true;
        return;
      default:
        return;
    }
  }

  private takeUsage(usage: Partial<Record<keyof LlmUsage, number | null>>): void {
    for (const key of USAGE_KEYS) {
      const value = usage[key];
      if (typeof value === 'number') this.usage[key] = value;
    }
  }
}

const USAGE_KEYS = [
  'input_tokens',
  'output_tokens',
  'cache_creation_input_tokens',
  'cache_read_input_tokens',
] as const;

interface PendingToolUse {
  type: 'tool_use';
  id: string;
  name: string;
  json: string;
}

/** A thinking block as it streams: its signature arrives last, in one `signature_delta`. */
interface PendingThinking {
  type: 'thinking';
  thinking: string;
  signature: string;
}

type PendingBlock =
  TextBlock | PendingToolUse | PendingThinking | { type: 'redacted_thinking'; data: string };

/**
 * Rebuilds the content blocks from raw events. The SDK's own snapshot repairs truncated tool input
 * JSON into a partial object, which must never reach a tool; here the JSON is parsed strictly.
 */
class BlockAssembler {
  private readonly blocks: Array<PendingBlock | undefined> = [];

  /** Returns the text or thinking delta the event carries, if any. */
  add(event: RawEvent): { text?: string; thinking?: string } | undefined {
    switch (event.type) {
      case 'content_block_start': {
        const block = event.content_block;
        if (block.type === 'text') this.blocks[event.index] = { type: 'text', text: block.text ?? '' };
        else if (block.type === 'tool_use') {
          this.blocks[event.index] = { type: 'tool_use', id: block.id, name: block.name, json: '' };
        } else if (block.type === 'thinking') {
          this.blocks[event.index] = { type: 'thinking', thinking: block.thinking ?? '', signature: '' };
        } else if (block.type === 'redacted_thinking') {
          this.blocks[event.index] = { type: 'redacted_thinking', data: block.data };
        }
        return undefined;
      }
      case 'content_block_delta': {
        const block = this.blocks[event.index];
        if (event.delta.type === 'text_delta' && block?.type === 'text') {
          block.text += event.delta.text;
          return event.delta.text ? { text: event.delta.text } : undefined;
        }
        if (event.delta.type === 'input_json_delta' && block?.type === 'tool_use') {
          block.json += event.delta.partial_json;
        }
        if (event.delta.type === 'thinking_delta' && block?.type === 'thinking') {
          block.thinking += event.delta.thinking;
          return event.delta.thinking ? { thinking: event.delta.thinking } : undefined;
        }
        if (event.delta.type === 'signature_delta' && block?.type === 'thinking') {
          block.signature += event.delta.signature;
        }
        return undefined;
      }
      default:
        // Pings never get here; message-level events are read from the final message; unknown ones are ignored.
        return undefined;
    }
  }

  /** Everything the model has streamed so far, text and tool input alike: what an output estimate counts. */
  streamed(): string {
    let all = '';
    for (const block of this.blocks) {
      if (block?.type === 'text') all += block.text;
      else if (block?.type === 'thinking') all += block.thinking;
      else if (block?.type === 'tool_use') all += block.name + block.json;
    }
    return all;
  }

  /** With `truncated` (max_tokens), a tool use whose input did not finish is dropped instead of failing the call. */
  content(truncated: boolean): AssistantBlock[] {
    const content: AssistantBlock[] = [];
    for (const block of this.blocks) {
      if (!block) continue;
      if (block.type === 'text' || block.type === 'redacted_thinking') {
        content.push(block);
        continue;
      }
      if (block.type === 'thinking') {
        // Unsigned (cut by max_tokens): the provider would refuse it in a later request.
        if (block.signature) content.push(block);
        continue;
      }
      const input = parseToolInput(block.json);
      if (input === undefined) {
        if (truncated) continue;
        throw new LlmError('server_error', `The model sent unreadable input for the tool "${block.name}".`);
      }
      content.push({ type: 'tool_use', id: block.id, name: block.name, input });
    }
    return content;
  }
}

/**
 * The output tokens of streamed content the provider has not counted yet: about four ASCII characters a token,
 * and a token for every other character (CJK, emoji), which is at or above what the provider's tokenizer gives.
 */
export function estimateOutputTokens(text: string): number {
  let ascii = 0;
  let other = 0;
  for (const char of text) {
    if (char.charCodeAt(0) < 0x80) ascii += 1;
    else other += 1;
  }
  return Math.ceil(ascii / 4) + other;
}

function parseToolInput(json: string): Record<string, unknown> | undefined {
  if (json.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(json);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Fires once when `touch()` has not been called for `ms`; idle until the first touch. A touch only notes the time
 * (it comes with every event): one timer checks when it is due and waits again for what is left.
 */
class StallWatchdog {
  fired = false;
  private timer: NodeJS.Timeout | undefined;
  private last = 0;

  constructor(
    private readonly ms: number,
    private readonly onStall: () => void,
  ) {}

  touch(): void {
    if (this.fired || this.ms <= 0) return;
    this.last = performance.now();
    if (!this.timer) this.arm(this.ms);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(delay: number): void {
    this.timer = setTimeout(() => {
      const quiet = performance.now() - this.last;
      if (quiet < this.ms) return this.arm(this.ms - quiet);
      this.timer = undefined;
      this.fired = true;
      this.onStall();
    }, delay);
    this.timer.unref();
  }
}

function sdkLogger(logger: Logger): SdkLogger {
  return {
    error: (message, ...rest) => logger.error(format(message, ...rest)),
    warn: (message, ...rest) => logger.warn(format(message, ...rest)),
    info: (message, ...rest) => logger.log(format(message, ...rest)),
    debug: (message, ...rest) => logger.debug(format(message, ...rest)),
  };
}
