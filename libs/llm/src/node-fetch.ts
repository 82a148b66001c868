// A thin `fetch` for the Anthropic SDK (its `fetch` option): the same HTTP/1.1 keep-alive requests through undici's
// `request` (Node streams) instead of Node's global fetch (WHATWG streams). The SDK reads a streamed response's body
// as an async iterable, and iterating a Node stream skips the web-stream machinery fetch puts around every chunk:
// per streamed delta and per call, measurably less CPU (see BENCHMARKS.md). Only what the SDK uses of a Response is
// provided: ok, status, url, headers, body, text(), json().
import { Agent, Dispatcher, request } from 'undici';

type FetchInput = string | URL | { url: string };

interface FetchInit {
  method?: string;
  headers?: unknown;
  body?: unknown;
  signal?: AbortSignal | null;
}

/** What the SDK reads of a fetch Response. */
export class NodeFetchResponse {
  readonly ok: boolean;
  readonly headers: Headers;
  /** The SDK's middleware checks it before reading a body. */
  readonly bodyUsed = false;

  constructor(
    readonly url: string,
    readonly status: number,
    headers: Record<string, string | string[] | undefined>,
    readonly body: Dispatcher.ResponseData['body'],
  ) {
    this.ok = status >= 200 && status < 300;
    this.headers = new Headers();
    for (const [name, value] of Object.entries(headers)) {
      if (Array.isArray(value)) for (const v of value) this.headers.append(name, v);
      else if (value !== undefined) this.headers.set(name, value);
    }
  }

  text(): Promise<string> {
    return this.body.text();
  }

  json(): Promise<unknown> {
    return this.body.json();
  }
}

/** Headers as undici's request takes them, from whatever fetch would accept. */
function plainHeaders(headers: unknown): Record<string, string> {
  if (!headers) return {};
  if (headers instanceof Headers) return Object.fromEntries(headers.entries());
  if (Array.isArray(headers)) return Object.fromEntries(headers as Array<[string, string]>);
  return headers as Record<string, string>;
}

/**
 * A fetch over one keep-alive undici Agent. Errors keep fetch's shape where the SDK and the client's error mapping
 * look at it: a refused or dropped connection is a TypeError("fetch failed") with the cause; an abort an AbortError.
 */
export function nodeFetch(dispatcher: Dispatcher = new Agent({ keepAliveTimeout: 30_000 })) {
  return async (input: FetchInput, init: FetchInit = {}): Promise<NodeFetchResponse> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const body = init.body;
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      throw new TypeError('This fetch sends string or byte bodies only.');
    }
    try {
      const response = await request(url, {
        method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
        headers: plainHeaders(init.headers),
        body: body ?? undefined,
        signal: init.signal ?? undefined,
        dispatcher,
        // As fetch: the SDK arms its own timeout (an abort) and the client a stall watchdog.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      return new NodeFetchResponse(url, response.statusCode, response.headers, response.body);
    } catch (error) {
      throw asFetchError(error, init.signal);
    }
  };
}

function asFetchError(error: unknown, signal: AbortSignal | null | undefined): unknown {
  if (signal?.aborted || (error as { name?: string })?.name === 'AbortError') {
    const abort = new Error('This operation was aborted');
    abort.name = 'AbortError';
    (abort as { cause?: unknown }).cause = error;
    return abort;
  }
  return new TypeError('fetch failed', { cause: error });
}
