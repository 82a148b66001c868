// A scripted stand-in for the Anthropic Messages API on loopback, speaking its wire format (JSON and SSE) over real HTTP.
// Free of jest on purpose: the benchmark drives it too, with a first-byte latency and a token pace.
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** `usage` exactly as the provider reports it: `input_tokens` is the uncached input only. */
export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number | null;
  cache_read_input_tokens: number | null;
  cache_creation?: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number } | null;
}

/** A usage object with zeroes for whatever `overrides` leaves out. */
export function fakeUsage(overrides: Partial<FakeUsage> = {}): FakeUsage {
  return {
    input_tokens: 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    ...overrides,
  };
}

/** A usage object for a prompt-cached call: `cacheWrite` tokens written to the cache, `cacheRead` served from it. */
export function cachedUsage(counts: {
  input: number;
  output: number;
  cacheWrite?: number;
  cacheRead?: number;
}): FakeUsage {
  const cacheWrite = counts.cacheWrite ?? 0;
  return fakeUsage({
    input_tokens: counts.input,
    output_tokens: counts.output,
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: counts.cacheRead ?? 0,
    cache_creation: { ephemeral_5m_input_tokens: cacheWrite, ephemeral_1h_input_tokens: 0 },
  });
}

/** The provider's rough rule of thumb: about four characters a token (text, or a character count). */
export function estimateTokens(text: string | number): number {
  const chars = typeof text === 'number' ? text : text.length;
  return Math.max(1, Math.ceil(chars / 4));
}

/** A latch a reply's stream waits on after its first delta, so a test can look while the provider is mid-answer. */
export class FakeGate {
  private open = false;
  private wasReached = false;
  private resolveOpened!: () => void;
  private resolveReached!: () => void;
  /** Resolves when `release()` is called. */
  readonly opened = new Promise<void>((resolve) => (this.resolveOpened = resolve));
  /** Resolves when a stream has written its first delta and is waiting here. */
  readonly reached = new Promise<void>((resolve) => (this.resolveReached = resolve));

  get released(): boolean {
    return this.open;
  }

  get isWaiting(): boolean {
    return this.wasReached && !this.open;
  }

  release(): void {
    this.open = true;
    this.resolveOpened();
  }

  /** @internal called by the server when a stream arrives at the gate. */
  arrive(): Promise<void> {
    this.wasReached = true;
    this.resolveReached();
    return this.opened;
  }
}

export interface FakeTiming {
  /** Delay before the status line and headers are sent. */
  firstByteDelayMs?: number;
  /** Pause between two SSE events (the token pace). */
  eventDelayMs?: number;
}

export interface FakeToolUse {
  id?: string;
  name: string;
  input: Record<string, unknown>;
  /** The exact `partial_json` fragments to send, when a test needs them (e.g. truncated JSON). */
  partialJson?: string[];
}

export interface FakeMessageReply extends FakeTiming {
  /**
   * A `thinking` block first (extended thinking), streamed as `thinking_delta`s then one `signature_delta`, signed
   * the way `validate` checks when a later request sends it back.
   */
  thinking?: string;
  /** Streams the thinking block without its `signature_delta` (an answer cut short by `max_tokens`). */
  unsignedThinking?: boolean;
  /** A `redacted_thinking` block (after the thinking block, if any): its `data` is opaque and signed too. */
  redactedThinking?: boolean;
  /** The text block's content; a reply with neither text nor tool uses answers `OK`. */
  text?: string;
  toolUses?: FakeToolUse[];
  /** Characters per `text_delta`; by default each word (with its trailing space) is one delta. */
  chunkSize?: number;
  /** Characters per `input_json_delta` after the leading empty fragment (default 7, so keys get split). */
  jsonChunkSize?: number;
  /** Overrides the estimated usage; fields left out keep their estimate. */
  usage?: Partial<FakeUsage>;
  /** Defaults to `tool_use` when the reply has tool uses, else `end_turn`. */
  stop_reason?: string;
  /** Defaults to the model the request named. */
  model?: string;
  /** Adds a `ping` after every n events (one ping after `message_start` is always sent, as the API does). */
  pingEvery?: number;
  /** Adds event types the client has never heard of, which it must ignore. */
  unknownEvents?: boolean;
  /** Pauses the stream after its first `content_block_delta` until the gate opens. */
  gate?: FakeGate | PromiseLike<unknown>;
  /** Destroys the socket after this many events (pings included): the stream is cut mid-way. */
  cutAfterEvents?: number;
  /** Ends the response cleanly after this many events (pings included), before `message_stop`. */
  endAfterEvents?: number;
  /** Sends an SSE `error` event after this many events (pings included), then ends without `message_stop`. */
  errorEventAfter?: number;
  /** The error the `error` event carries; `overloaded_error` by default. */
  errorEvent?: { type: string; message: string };
}

export interface FakeErrorReply extends Pick<FakeTiming, 'firstByteDelayMs'> {
  status: number;
  /** `error.type`; by default the one the API uses for the status. */
  type?: string;
  message?: string;
  /** The `retry-after` header, in seconds. */
  retryAfter?: number;
  /** The `retry-after-ms` header, which the SDK prefers over `retry-after`. */
  retryAfterMs?: number;
  /** `error.details.error_code`, e.g. `enforced_spend_limit_reached`. */
  errorCode?: string;
  /** The `x-should-retry` header, which overrides the SDK's own retry decision. */
  shouldRetry?: boolean;
  headers?: Record<string, string>;
}

export type FakeReply = FakeMessageReply | FakeErrorReply;

export interface FakeRequestBody {
  model: string;
  max_tokens: number;
  messages: Array<{ role: string; content: unknown }>;
  system?: unknown;
  tools?: Array<{ name: string; description?: string; input_schema: unknown }>;
  temperature?: number;
  stream?: boolean;
  [key: string]: unknown;
}

export interface RecordedRequest {
  /** 1-based, in arrival order since the fake started; retries by the SDK are separate requests. */
  seq: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: FakeRequestBody;
}

export type FakeResponder = (request: RecordedRequest) => FakeReply | Promise<FakeReply>;

export interface FakeAnthropicOptions {
  /** 0 (any free port) by default. */
  port?: number;
  /** Timing applied to every reply that does not set its own. */
  timing?: FakeTiming;
  /**
   * Answer 400 as the API does to a malformed request, a `tool_use` left without its `tool_result`, or a
   * sampling parameter under anthropic-version 2026-10-21 or later (default true).
   */
  validate?: boolean;
  /** Keep every request in `requests` (default true); a long benchmark may turn it off to save memory. */
  recordRequests?: boolean;
  /**
   * The model's context window in tokens, as this fake counts them (see `promptTokens`): a longer request gets the
   * API's 400 "prompt is too long: N tokens > M maximum". Unset: no limit. Changeable with `setContextWindow`.
   */
  contextWindow?: number;
  /** Emulate the provider's prompt cache from the requests' `cache_control` markers (see `setPromptCache`). */
  promptCache?: boolean | FakePromptCacheOptions;
  /**
   * Answer the backend's summariser requests (their system prompt asks for "the running summary of a
   * conversation") with a summary made from the transcript, ahead of the scripted queue (default true).
   */
  answerSummaries?: boolean;
}

export interface FakePromptCacheOptions {
  /** Breakpoints whose prefix holds fewer tokens are ignored, as the API does (default 0). */
  minTokens?: number;
  /** How long an entry lives without a hit (default 5 minutes); each hit refreshes it. */
  ttlMs?: number;
}

/** How far before a breakpoint the provider looks for an earlier cached prefix, in blocks. */
const CACHE_LOOKBACK_BLOCKS = 20;
/** What the backend's summariser asks for in its system prompt. */
const SUMMARY_REQUEST = /running summary of a conversation/i;

interface SseEvent {
  name: string;
  data: Record<string, unknown>;
}

interface AssistantMessage {
  id: string;
  model: string;
  content: Array<Record<string, unknown>>;
  stop_reason: string;
  usage: FakeUsage;
  /** The wire fragments of each block, by block index. */
  deltas: Array<Array<Record<string, unknown>>>;
}

/** From this API version on, sampling parameters are refused, whatever their value. */
const SAMPLING_REMOVED_IN = '2026-10-21';

/** The key the fake signs its thinking blocks with: a block edited by the client no longer matches. */
const SIGNING_KEY = randomUUID();

export function thinkingSignature(thinking: string): string {
  return createHmac('sha256', SIGNING_KEY).update(`thinking:${thinking}`).digest('base64');
}

function redactedData(): string {
  const nonce = randomUUID();
  return `${Buffer.from(nonce).toString('base64')}.${createHmac('sha256', SIGNING_KEY).update(`redacted:${nonce}`).digest('base64')}`;
}

function validRedactedData(data: unknown): boolean {
  if (typeof data !== 'string') return false;
  const [nonce, mac] = data.split('.');
  if (!nonce || !mac) return false;
  const expected = createHmac('sha256', SIGNING_KEY)
    .update(`redacted:${Buffer.from(nonce, 'base64').toString()}`)
    .digest('base64');
  return mac === expected;
}

const IMAGE_MEDIA_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

const DEFAULT_ERRORS: Record<number, { type: string; message: string }> = {
  400: { type: 'invalid_request_error', message: 'Invalid request.' },
  401: { type: 'authentication_error', message: 'invalid x-api-key' },
  402: { type: 'billing_error', message: 'Your credit balance is too low to access the Anthropic API.' },
  403: {
    type: 'permission_error',
    message: 'Your API key does not have permission to use the specified resource.',
  },
  404: { type: 'not_found_error', message: 'The requested resource could not be found.' },
  408: { type: 'timeout_error', message: 'Request timed out.' },
  409: { type: 'conflict_error', message: 'Conflict.' },
  413: { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' },
  429: {
    type: 'rate_limit_error',
    message: 'This request would exceed the rate limit for your organization of 50 requests per minute.',
  },
  500: { type: 'api_error', message: 'Internal server error' },
  504: { type: 'timeout_error', message: 'Gateway timeout' },
  529: { type: 'overloaded_error', message: 'Overloaded' },
};

export class FakeAnthropic {
  readonly requests: RecordedRequest[] = [];
  private readonly queue: FakeReply[] = [];
  private responder: FakeResponder | undefined;
  private abortedCount = 0;
  private completedCount = 0;
  private unscriptedCount = 0;
  private inFlightCount = 0;
  private received = 0;
  private readonly abortWaiters = new Set<() => void>();
  private readonly stopping = new AbortController();
  private contextWindowTokens: number | undefined;
  private cacheOptions: FakePromptCacheOptions | undefined;
  /** Cached prefixes: hash → expiry (ms since epoch). */
  private readonly prefixCache = new Map<string, number>();
  private summaryCount = 0;
  private overflowCount = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly options: FakeAnthropicOptions,
  ) {
    this.contextWindowTokens = options.contextWindow;
    if (options.promptCache) this.cacheOptions = options.promptCache === true ? {} : options.promptCache;
  }

  /** Sets (or with undefined, lifts) the context window the fake enforces. */
  setContextWindow(tokens: number | undefined): this {
    this.contextWindowTokens = tokens;
    return this;
  }

  /** Turns the prompt-cache emulation on (with options) or off; turning it off or on again empties the cache. */
  setPromptCache(options: boolean | FakePromptCacheOptions): this {
    this.cacheOptions = options === false ? undefined : options === true ? {} : options;
    this.prefixCache.clear();
    return this;
  }

  /** Summariser requests the fake answered itself (see `answerSummaries`). */
  get summaryRequests(): number {
    return this.summaryCount;
  }

  /** Requests refused as longer than the context window. */
  get overflows(): number {
    return this.overflowCount;
  }

  static async start(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
    const server = createServer();
    server.listen(options.port ?? 0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const fake = new FakeAnthropic(server, `http://127.0.0.1:${port}`, options);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void fake.handle(req, res));
    return fake;
  }

  /** Replies for the next requests, served in order before any responder. */
  enqueue(...replies: FakeReply[]): this {
    this.queue.push(...replies);
    return this;
  }

  /** Answers every request the queue does not, from the request itself; `undefined` removes it. */
  respondWith(responder: FakeResponder | undefined): this {
    this.responder = responder;
    return this;
  }

  gate(): FakeGate {
    return new FakeGate();
  }

  /** Responses the client went away from before they were complete. */
  get aborted(): number {
    return this.abortedCount;
  }

  /** Responses written to the end, errors included. */
  get completed(): number {
    return this.completedCount;
  }

  /** Requests that found neither a scripted reply nor a responder (and got a 500 saying so). */
  get unscripted(): number {
    return this.unscriptedCount;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Scripted replies not yet served. */
  get pendingReplies(): number {
    return this.queue.length;
  }

  /** Resolves once `count` responses in all have been abandoned by the client; rejects after `timeoutMs`. */
  waitForAborts(count = 1, timeoutMs = 2_000): Promise<void> {
    if (this.abortedCount >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.abortedCount < count) return;
        clearTimeout(timer);
        this.abortWaiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.abortWaiters.delete(check);
        reject(new Error(`FakeAnthropic: expected ${count} aborted response(s), saw ${this.abortedCount}.`));
      }, timeoutMs);
      this.abortWaiters.add(check);
    });
  }

  /** Forgets requests, counters, queued replies and the responder. */
  reset(): void {
    this.requests.length = 0;
    this.queue.length = 0;
    this.responder = undefined;
    this.abortedCount = 0;
    this.completedCount = 0;
    this.unscriptedCount = 0;
    this.summaryCount = 0;
    this.overflowCount = 0;
    this.prefixCache.clear();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlightCount += 1;
    this.received += 1;
    const seq = this.received;
    const exchange: Exchange = {
      res,
      requestId: `req_fake_${String(seq).padStart(6, '0')}`,
      closed: new AbortController(),
      endedByServer: false,
    };
    const onStop = (): void => exchange.closed.abort();
    this.stopping.signal.addEventListener('abort', onStop);
    res.on('close', () => {
      this.inFlightCount -= 1;
      this.stopping.signal.removeEventListener('abort', onStop);
      exchange.closed.abort();
      if (res.writableFinished || exchange.endedByServer) return;
      this.abortedCount += 1;
      for (const check of [...this.abortWaiters]) check();
    });
    res.setHeader('request-id', exchange.requestId);

    try {
      const raw = await readBody(req);
      if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/v1/messages') {
        return this.sendError(exchange, { status: 404, message: `No route for ${req.method} ${req.url}.` });
      }
      let body: FakeRequestBody;
      try {
        body = JSON.parse(raw) as FakeRequestBody;
      } catch {
        return this.sendError(exchange, { status: 400, message: 'The request body is not valid JSON.' });
      }
      const recorded: RecordedRequest = {
        seq,
        method: req.method,
        path: req.url ?? '',
        headers: req.headers,
        body,
      };
      if (this.options.recordRequests !== false) this.requests.push(recorded);
      if (!req.headers['x-api-key'] && !req.headers.authorization) {
        return this.sendError(exchange, { status: 401, message: 'x-api-key header is required' });
      }
      const invalid = this.options.validate === false ? null : validateRequest(body, req.headers);
      if (invalid) return this.sendError(exchange, { status: 400, message: invalid });
      const tooLong = this.contextOverflow(body);
      if (tooLong) return this.sendError(exchange, { status: 400, message: tooLong });

      const scripted = this.summaryReply(body) ?? (await this.nextReply(recorded));
      if (!scripted) {
        this.unscriptedCount += 1;
        return this.sendError(exchange, {
          status: 500,
          message: `FakeAnthropic: no reply was scripted for request #${recorded.seq} (POST /v1/messages); call enqueue() or respondWith() first.`,
          // Retrying would only hide the missing script behind the SDK's backoff.
          shouldRetry: false,
        });
      }
      const reply: FakeReply = { ...this.options.timing, ...withoutUndefined(scripted) };
      await pause(reply.firstByteDelayMs ?? 0, exchange.closed.signal);
      if (exchange.closed.signal.aborted) return;

      if ('status' in reply) return this.sendError(exchange, reply);
      const message = buildMessage(body, reply, recorded.seq, this.cachedUsage(body));
      if (body.stream === true) await this.sendStream(exchange, message, reply);
      else await this.sendJson(exchange, message, reply);
    } catch (error) {
      if (res.headersSent) {
        exchange.endedByServer = true;
        res.destroy();
        return;
      }
      this.sendError(exchange, {
        status: 500,
        message: `FakeAnthropic failed: ${error instanceof Error ? error.message : String(error)}`,
        shouldRetry: false,
      });
    }
  }

  /** The API's answer to a request longer than the window, or null when it fits (or no window is set). */
  private contextOverflow(body: FakeRequestBody): string | null {
    if (this.contextWindowTokens === undefined || !Array.isArray(body.messages)) return null;
    const tokens = promptTokens(body);
    if (tokens <= this.contextWindowTokens) return null;
    this.overflowCount += 1;
    return `prompt is too long: ${tokens} tokens > ${this.contextWindowTokens} maximum`;
  }

  /** A summary of the transcript a summariser request carries, or undefined for any other request. */
  private summaryReply(body: FakeRequestBody): FakeMessageReply | undefined {
    if (this.options.answerSummaries === false || !SUMMARY_REQUEST.test(systemText(body.system)))
      return undefined;
    this.summaryCount += 1;
    return { text: summaryOf(textOf(body.messages.at(-1)?.content), body.max_tokens) };
  }

  /**
   * With the prompt cache on: the request's input split into uncached, written and read tokens. The prefix up to a
   * `cache_control` marker is read when it (or one ending up to 20 blocks before the marker) was written before,
   * and written when it is new; without the cache, undefined (the plain estimate applies).
   */
  private cachedUsage(body: FakeRequestBody): Partial<FakeUsage> | undefined {
    if (!this.cacheOptions) return undefined;
    const now = Date.now();
    const ttl = this.cacheOptions.ttlMs ?? 300_000;
    const minTokens = this.cacheOptions.minTokens ?? 0;
    const blocks = prefixBlocks(body);
    const total = blocks.length ? blocks[blocks.length - 1].tokens : 0;
    const live = (hash: string): boolean => (this.prefixCache.get(hash) ?? 0) > now;
    let read = 0;
    let readHash: string | undefined;
    let lastMarker = -1;
    blocks.forEach((block, index) => {
      if (!block.marked || block.tokens < minTokens) return;
      lastMarker = index;
      for (let back = index; back >= 0 && back >= index - CACHE_LOOKBACK_BLOCKS; back -= 1) {
        if (!live(blocks[back].hash)) continue;
        if (blocks[back].tokens > read) {
          read = blocks[back].tokens;
          readHash = blocks[back].hash;
        }
        break;
      }
    });
    if (readHash) this.prefixCache.set(readHash, now + ttl);
    let written = 0;
    if (lastMarker >= 0 && !live(blocks[lastMarker].hash)) written = blocks[lastMarker].tokens - read;
    for (const block of blocks)
      if (block.marked && block.tokens >= minTokens) this.prefixCache.set(block.hash, now + ttl);
    return {
      input_tokens: total - read - Math.max(0, written),
      cache_read_input_tokens: read,
      cache_creation_input_tokens: Math.max(0, written),
      cache_creation: { ephemeral_5m_input_tokens: Math.max(0, written), ephemeral_1h_input_tokens: 0 },
    };
  }

  private async nextReply(request: RecordedRequest): Promise<FakeReply | undefined> {
    const scripted = this.queue.shift();
    if (scripted) return scripted;
    return this.responder ? this.responder(request) : undefined;
  }

  private sendError(exchange: Exchange, reply: FakeErrorReply): void {
    const defaults = DEFAULT_ERRORS[reply.status] ?? { type: 'api_error', message: `HTTP ${reply.status}` };
    const error: Record<string, unknown> = {
      type: reply.type ?? defaults.type,
      message: reply.message ?? defaults.message,
    };
    if (reply.errorCode) error.details = { error_code: reply.errorCode };
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (reply.status === 429) {
      headers['anthropic-ratelimit-requests-limit'] = '50';
      headers['anthropic-ratelimit-requests-remaining'] = '0';
    }
    if (reply.retryAfter !== undefined) headers['retry-after'] = String(reply.retryAfter);
    if (reply.retryAfterMs !== undefined) headers['retry-after-ms'] = String(reply.retryAfterMs);
    if (reply.shouldRetry !== undefined) headers['x-should-retry'] = String(reply.shouldRetry);
    exchange.endedByServer = true;
    exchange.res.writeHead(reply.status, { ...headers, ...reply.headers });
    exchange.res.end(JSON.stringify({ type: 'error', error, request_id: exchange.requestId }));
    this.completedCount += 1;
  }

  private async sendJson(
    exchange: Exchange,
    message: AssistantMessage,
    reply: FakeMessageReply,
  ): Promise<void> {
    if (reply.errorEventAfter !== undefined) {
      return this.sendError(exchange, {
        status: 500,
        message: 'FakeAnthropic: errorEventAfter applies to streaming requests only.',
        shouldRetry: false,
      });
    }
    const json = JSON.stringify(wireMessage(message, message.content, message.usage, message.stop_reason));
    const { res } = exchange;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    if (reply.cutAfterEvents !== undefined) {
      await write(res, json.slice(0, Math.floor(json.length / 2)));
      return this.cut(exchange);
    }
    exchange.endedByServer = true;
    res.end(json);
    this.completedCount += 1;
  }

  private async sendStream(
    exchange: Exchange,
    message: AssistantMessage,
    reply: FakeMessageReply,
  ): Promise<void> {
    const { res } = exchange;
    const closed = exchange.closed.signal;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const events = streamEvents(message, reply);
    // Past the end means "before message_stop": the error or the cut always prevents a clean end.
    const clamp = (n: number | undefined): number | undefined =>
      n === undefined ? undefined : Math.max(0, Math.min(n, events.length - 1));
    const errorAt = clamp(reply.errorEventAfter);
    const cutAt = clamp(reply.cutAfterEvents);
    const endAt = clamp(reply.endAfterEvents);
    let gated = reply.gate === undefined;

    for (let written = 0; written < events.length; written += 1) {
      if (written === errorAt) {
        const error = reply.errorEvent ?? DEFAULT_ERRORS[529];
        await write(res, sse({ name: 'error', data: { type: 'error', error } }));
        exchange.endedByServer = true;
        res.end();
        this.completedCount += 1;
        return;
      }
      if (written === cutAt) return this.cut(exchange);
      if (written === endAt) {
        exchange.endedByServer = true;
        res.end();
        this.completedCount += 1;
        return;
      }
      if (written > 0) await pause(reply.eventDelayMs ?? 0, closed);
      if (closed.aborted) return;
      const event = events[written];
      await write(res, sse(event));
      if (!gated && event.name === 'content_block_delta') {
        gated = true;
        await untilOpen(reply.gate!, closed);
      }
    }
    exchange.endedByServer = true;
    res.end();
    this.completedCount += 1;
  }

  private cut(exchange: Exchange): void {
    exchange.endedByServer = true;
    exchange.res.socket?.destroy();
  }
}

interface Exchange {
  res: ServerResponse;
  requestId: string;
  /** Aborted when the response closes, whoever closed it, or when the fake stops. */
  closed: AbortController;
  /** Set before the server ends or cuts the response, so a close that follows is not counted as the client's. */
  endedByServer: boolean;
}

type Blocks = Array<Record<string, unknown>>;

function blocksOf(content: unknown): Blocks {
  return Array.isArray(content) ? (content as Blocks) : [];
}

/** The checks the real API makes that an agent loop can trip; null when the request is acceptable. */
function validateRequest(body: FakeRequestBody, headers: IncomingHttpHeaders): string | null {
  if (typeof body.model !== 'string' || !body.model) return 'model: Field required';
  const version = String(headers['anthropic-version'] ?? '');
  if (version >= SAMPLING_REMOVED_IN) {
    const sampling = ['temperature', 'top_p', 'top_k'].find((name) => name in body);
    if (sampling) return `${sampling}: Extra inputs are not permitted`;
  }
  if (typeof body.max_tokens !== 'number' || body.max_tokens < 1) return 'max_tokens: Field required';
  const thinking = body.thinking as { type?: unknown; budget_tokens?: unknown } | undefined;
  const thinkingEnabled = thinking?.type === 'enabled';
  if (thinkingEnabled) {
    const budget = thinking.budget_tokens;
    if (typeof budget !== 'number' || budget < 1024)
      return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
    if (budget >= body.max_tokens) return '`max_tokens` must be greater than `thinking.budget_tokens`.';
    const choice = (body.tool_choice as { type?: unknown } | undefined)?.type;
    if (choice === 'any' || choice === 'tool')
      return 'Thinking may not be enabled when tool_choice forces tool use.';
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return 'messages: at least one message is required';
  }
  for (let i = 0; i < body.messages.length; i += 1) {
    const { role, content } = body.messages[i];
    if (role !== 'user' && role !== 'assistant')
      return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    for (const [j, block] of blocksOf(content).entries()) {
      const invalid = blockProblem(role, block, `messages.${i}.content.${j}`);
      if (invalid) return invalid;
    }
    const results = blocksOf(content).filter((b) => b.type === 'tool_result');
    if (role === 'user' && results.length && thinkingEnabled && i === body.messages.length - 1) {
      // Within a tool-use cycle the assistant message goes back verbatim, its thinking block first.
      const first = i > 0 ? blocksOf(body.messages[i - 1].content)[0] : undefined;
      if (first?.type !== 'thinking' && first?.type !== 'redacted_thinking') {
        return `messages.${i - 1}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${String(first?.type)}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks).`;
      }
    }
    if (role === 'user' && results.length) {
      const previous = i > 0 ? body.messages[i - 1] : undefined;
      const offered = new Set(
        previous?.role === 'assistant'
          ? blocksOf(previous.content)
              .filter((b) => b.type === 'tool_use')
              .map((b) => String(b.id))
          : [],
      );
      const stray = results.map((b) => String(b.tool_use_id)).filter((id) => !offered.has(id));
      if (stray.length) {
        return `messages.${i}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${stray.join(', ')}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
      }
    }
    const uses = blocksOf(content).filter((b) => b.type === 'tool_use');
    const next = body.messages[i + 1];
    if (role !== 'assistant' || !uses.length || !next) continue;
    const answered = new Set(
      blocksOf(next.content)
        .filter((b) => b.type === 'tool_result')
        .map((b) => String(b.tool_use_id)),
    );
    const missing = uses.map((b) => String(b.id)).filter((id) => !answered.has(id));
    if (missing.length) {
      return `messages.${i + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
    }
  }
  return null;
}

/** The provider's checks of one content block (where it may appear, its shape, its signature); null when fine. */
function blockProblem(role: string, block: Record<string, unknown>, at: string): string | null {
  switch (block.type) {
    case 'thinking':
      if (role !== 'assistant') return `${at}: thinking blocks may only appear in assistant messages`;
      if ('cache_control' in block) return `${at}.cache_control: Extra inputs are not permitted`;
      if (typeof block.thinking !== 'string' || block.signature !== thinkingSignature(block.thinking)) {
        return `${at}: Invalid \`signature\` in \`thinking\` block`;
      }
      return null;
    case 'redacted_thinking':
      if (role !== 'assistant')
        return `${at}: redacted_thinking blocks may only appear in assistant messages`;
      if ('cache_control' in block) return `${at}.cache_control: Extra inputs are not permitted`;
      return validRedactedData(block.data) ? null : `${at}: Invalid \`data\` in \`redacted_thinking\` block`;
    case 'image':
    case 'document': {
      if (role !== 'user') return `${at}: ${block.type} blocks may only appear in user messages`;
      const source = block.source as Record<string, unknown> | undefined;
      if (source?.type === 'url') {
        return typeof source.url === 'string' && /^https?:\/\//.test(source.url)
          ? null
          : `${at}.source.url: Invalid URL`;
      }
      if (source?.type !== 'base64') return `${at}.source.type: Input should be 'base64' or 'url'`;
      const allowed = block.type === 'image' ? IMAGE_MEDIA_TYPES : ['application/pdf'];
      if (typeof source.media_type !== 'string' || !allowed.includes(source.media_type)) {
        return `${at}.source.media_type: Input should be ${allowed.map((t) => `'${t}'`).join(', ')}`;
      }
      if (typeof source.data !== 'string' || !source.data) return `${at}.source.data: Field required`;
      return null;
    }
    default:
      return null;
  }
}

function buildMessage(
  body: FakeRequestBody,
  reply: FakeMessageReply,
  seq: number,
  cached?: Partial<FakeUsage>,
): AssistantMessage {
  const content: Array<Record<string, unknown>> = [];
  const deltas: Array<Array<Record<string, unknown>>> = [];
  const toolUses = reply.toolUses ?? [];
  const text = reply.text ?? (toolUses.length ? undefined : 'OK');
  let outputChars = 0;

  if (reply.thinking !== undefined) {
    const signature = thinkingSignature(reply.thinking);
    content.push({ type: 'thinking', thinking: reply.thinking, signature });
    deltas.push([
      ...splitText(reply.thinking, reply.chunkSize).map((piece) => ({
        type: 'thinking_delta',
        thinking: piece,
      })),
      ...(reply.unsignedThinking ? [] : [{ type: 'signature_delta', signature }]),
    ]);
    outputChars += reply.thinking.length;
  }
  if (reply.redactedThinking) {
    content.push({ type: 'redacted_thinking', data: redactedData() });
    deltas.push([]);
    outputChars += 100;
  }

  if (text !== undefined) {
    content.push({ type: 'text', text });
    deltas.push(splitText(text, reply.chunkSize).map((piece) => ({ type: 'text_delta', text: piece })));
    outputChars += text.length;
  }
  toolUses.forEach((use, i) => {
    const json = JSON.stringify(use.input);
    // Fresh on every response, as the API's are: a model asked again never repeats an earlier call's id.
    const id = use.id ?? `toolu_fake_${String(seq).padStart(4, '0')}_${i}_${randomBytes(6).toString('hex')}`;
    content.push({ type: 'tool_use', id, name: use.name, input: use.input });
    const fragments = use.partialJson ?? ['', ...splitEvery(json, reply.jsonChunkSize ?? 7)];
    deltas.push(fragments.map((partial_json) => ({ type: 'input_json_delta', partial_json })));
    outputChars += json.length + use.name.length;
  });

  const promptChars = JSON.stringify([body.system ?? '', body.messages, body.tools ?? []]).length;
  const usage = fakeUsage({
    input_tokens: estimateTokens(promptChars),
    output_tokens: estimateTokens(outputChars),
    ...cached,
    ...reply.usage,
  });
  return {
    id: `msg_fake_${String(seq).padStart(6, '0')}`,
    model: reply.model ?? body.model,
    content,
    stop_reason: reply.stop_reason ?? (toolUses.length ? 'tool_use' : 'end_turn'),
    usage,
    deltas,
  };
}

/** One block of a request's cacheable prefix (tools → system → messages), with the prefix up to it. */
interface PrefixBlock {
  /** Identifies the prefix up to and including this block (model, content, order; never the markers). */
  hash: string;
  /** Tokens of the prefix up to and including this block. */
  tokens: number;
  /** The block carries a `cache_control` breakpoint. */
  marked: boolean;
}

/** The request's blocks in cache order; a string content counts as one text block, as the API treats it. */
function prefixBlocks(body: FakeRequestBody): PrefixBlock[] {
  const out: PrefixBlock[] = [];
  let hash = createHash('sha256').update(String(body.model)).digest('hex');
  let tokens = 0;
  const add = (key: string, block: unknown): void => {
    const marked = isMarked(block);
    hash = createHash('sha256')
      .update(hash)
      .update(key)
      .update(JSON.stringify(unmarked(block)))
      .digest('hex');
    tokens += estimateTokens(JSON.stringify(unmarked(block)));
    out.push({ hash, tokens, marked });
  };
  for (const tool of body.tools ?? []) add('tool', tool);
  const system = body.system;
  for (const block of typeof system === 'string'
    ? system
      ? [{ type: 'text', text: system }]
      : []
    : blocksOf(system)) {
    add('system', block);
  }
  body.messages.forEach((message, index) => {
    const content =
      typeof message.content === 'string'
        ? [{ type: 'text', text: message.content }]
        : blocksOf(message.content);
    content.forEach((block, i) => add(i === 0 ? `${index}:${message.role}` : message.role, block));
  });
  return out;
}

/** The input tokens of a request as this fake counts them (what its context window holds). */
export function promptTokens(body: FakeRequestBody): number {
  const blocks = prefixBlocks(body);
  return blocks.length ? blocks[blocks.length - 1].tokens : 0;
}

function isMarked(block: unknown): boolean {
  return typeof block === 'object' && block !== null && 'cache_control' in block;
}

function unmarked(block: unknown): unknown {
  if (!isMarked(block)) return block;
  const { cache_control: _marker, ...rest } = block as Record<string, unknown>;
  return rest;
}

function systemText(system: unknown): string {
  if (typeof system === 'string') return system;
  return blocksOf(system)
    .map((b) => (typeof b.text === 'string' ? b.text : ''))
    .join('\n');
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  return blocksOf(content)
    .map((b) => (typeof b.text === 'string' ? b.text : ''))
    .join('\n');
}

/**
 * What a summariser would write: the summary so far, then one line per user request and tool result of the
 * transcript (shortened), within the request's max_tokens.
 */
export function summaryOf(request: string, maxTokens: number): string {
  const section = (tag: string): string =>
    new RegExp(`<${tag}>\\n?([\\s\\S]*?)\\n?</${tag}>`).exec(request)?.[1] ?? '';
  const previous = section('summary_so_far').trim();
  const lines = section('transcript')
    .split('\n')
    .filter((line) => /^User: |returned/.test(line))
    .map((line) => (line.length > 80 ? `${line.slice(0, 79)}…` : line));
  const parts = [previous && previous !== '(none yet)' ? previous : '', ...lines.map((line) => `- ${line}`)];
  const text = parts.filter(Boolean).join('\n') || 'Nothing of note was said.';
  const room = Math.max(16, maxTokens * 4 - 8);
  // Like a model near its limit: the oldest details go first.
  return text.length <= room ? text : `…${text.slice(text.length - room + 1)}`;
}

function wireMessage(
  message: AssistantMessage,
  content: Array<Record<string, unknown>>,
  usage: FakeUsage,
  stopReason: string | null,
): Record<string, unknown> {
  return {
    id: message.id,
    type: 'message',
    role: 'assistant',
    model: message.model,
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage,
  };
}

function streamEvents(message: AssistantMessage, reply: FakeMessageReply): SseEvent[] {
  const events: SseEvent[] = [];
  const startUsage = { ...message.usage, output_tokens: Math.min(1, message.usage.output_tokens) };
  events.push({
    name: 'message_start',
    data: { type: 'message_start', message: wireMessage(message, [], startUsage, null) },
  });
  events.push({ name: 'ping', data: { type: 'ping' } });
  if (reply.unknownEvents) {
    events.push({
      name: 'fake_future_event',
      data: { type: 'fake_future_event', detail: 'clients must ignore this' },
    });
  }
  message.content.forEach((block, index) => {
    const placeholder =
      block.type === 'tool_use'
        ? { ...block, input: {} }
        : block.type === 'thinking'
          ? { type: 'thinking', thinking: '', signature: '' }
          : block.type === 'redacted_thinking'
            ? block
            : { ...block, text: '' };
    events.push({
      name: 'content_block_start',
      data: { type: 'content_block_start', index, content_block: placeholder },
    });
    for (const delta of message.deltas[index]) {
      events.push({ name: 'content_block_delta', data: { type: 'content_block_delta', index, delta } });
    }
    events.push({ name: 'content_block_stop', data: { type: 'content_block_stop', index } });
  });
  if (reply.unknownEvents) {
    events.push({ name: 'content_block_shimmer', data: { type: 'content_block_shimmer', index: 0 } });
  }
  events.push({
    name: 'message_delta',
    data: {
      type: 'message_delta',
      delta: { stop_reason: message.stop_reason, stop_sequence: null },
      usage: message.usage,
    },
  });
  events.push({ name: 'message_stop', data: { type: 'message_stop' } });

  const every = reply.pingEvery;
  if (!every || every < 1) return events;
  const paced: SseEvent[] = [];
  events.forEach((event, i) => {
    paced.push(event);
    if ((i + 1) % every === 0 && i < events.length - 1) paced.push({ name: 'ping', data: { type: 'ping' } });
  });
  return paced;
}

function splitText(text: string, chunkSize: number | undefined): string[] {
  if (chunkSize && chunkSize > 0) return splitEvery(text, chunkSize);
  const words = text.match(/\s*\S+\s*/g);
  return words ?? [text];
}

function splitEvery(text: string, size: number): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  return pieces;
}

function sse(event: SseEvent): string {
  return `event: ${event.name}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

function write(res: ServerResponse, chunk: string): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve();
    res.write(chunk, () => resolve());
  });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Waits `ms`, or less when the response is closed first. */
function pause(ms: number, closed: AbortSignal): Promise<void> {
  if (ms <= 0 || closed.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(finish, ms);
    function finish(): void {
      clearTimeout(timer);
      closed.removeEventListener('abort', finish);
      resolve();
    }
    closed.addEventListener('abort', finish, { once: true });
  });
}

function untilOpen(gate: FakeGate | PromiseLike<unknown>, closed: AbortSignal): Promise<void> {
  const opened = gate instanceof FakeGate ? gate.arrive() : Promise.resolve(gate);
  return new Promise((resolve) => {
    const finish = (): void => {
      closed.removeEventListener('abort', finish);
      resolve();
    };
    closed.addEventListener('abort', finish, { once: true });
    opened.then(finish, finish);
  });
}

/** So a reply's `firstByteDelayMs: undefined` does not hide the server-wide default. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
