// The retry policy and key pool around single-attempt clients: scripted attempts, a recording sleeper, no network.
import { keyId, PooledKey, ProviderKeyPool } from './key-pool';
import { LlmClient, LlmRequest, LlmStreamEvent } from './llm-client';
import { LlmError } from './llm-error';
import { ProviderRateLimiter, RateLimitGrant } from './rate-limiter';
import { ResilientLlmClient } from './resilient-llm-client';

type Attempt = { fail?: LlmError; failAfterText?: LlmError; text?: string; thinkingOnly?: boolean };

class ScriptedKey extends LlmClient {
  readonly kind = 'scripted';
  calls = 0;
  constructor(private readonly attempts: Attempt[]) {
    super();
  }
  modelFor(requested: string): string {
    return requested;
  }
  async *stream(): AsyncGenerator<LlmStreamEvent> {
    this.calls += 1;
    const attempt = this.attempts.shift() ?? { text: 'ok' };
    if (attempt.fail) throw attempt.fail;
    if (attempt.thinkingOnly) yield { type: 'thinking', thinking: attempt.text ?? 'partial' };
    else yield { type: 'text', text: attempt.text ?? 'partial' };
    if (attempt.failAfterText) throw attempt.failAfterText;
    yield {
      type: 'result',
      result: {
        model: 'claude-sonnet-4-6',
        content: [{ type: 'text', text: attempt.text ?? 'ok' }],
        stop_reason: 'end_turn',
        usage: {
          input_tokens: 10,
          output_tokens: 5,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        },
        latency_ms: 1,
        time_to_first_token_ms: 1,
      },
    };
  }
}

/** Grants the first candidate key that is not parked; records penalties and settlements. */
class RecordingLimiter extends ProviderRateLimiter {
  readonly penalties: Array<{ keyId: string; ms: number }> = [];
  readonly settled: number[] = [];
  readonly candidates: string[][] = [];
  readonly asked: number[] = [];
  constructor(readonly countsTokens = true) {
    super();
  }
  async acquire(keyIds: string[], tokens: number): Promise<RateLimitGrant> {
    this.candidates.push(keyIds);
    this.asked.push(tokens);
    const index = Math.max(
      0,
      keyIds.findIndex((id) => !this.penalties.some((p) => p.keyId === id)),
    );
    return { index, settle: async (tokens) => void this.settled.push(tokens) };
  }
  async penalize(keyId: string, ms: number): Promise<void> {
    this.penalties.push({ keyId, ms });
  }
}

const request: LlmRequest = {
  model: '',
  system: 'test',
  messages: [{ role: 'user', content: 'hi' }],
  tools: [],
  temperature: 0,
  maxTokens: 100,
};

function setup(scripts: Attempt[][], maxRetries = 2, countsTokens = true) {
  const clients = scripts.map((attempts) => new ScriptedKey(attempts));
  const keys: PooledKey[] = clients.map((client, i) => ({
    id: keyId(`key-${i}`),
    label: `#${i + 1}`,
    client,
  }));
  const pool = new ProviderKeyPool(keys);
  const limiter = new RecordingLimiter(countsTokens);
  const sleeps: number[] = [];
  const retried: string[] = [];
  const client = new ResilientLlmClient(
    pool,
    limiter,
    { maxRetries, baseMs: 100, maxDelayMs: 1_000 },
    'claude-sonnet-4-6',
    async (ms) => void sleeps.push(ms),
    { onRetry: (error) => retried.push(error.kind) },
    () => 0.5,
  );
  return { client, clients, keys, limiter, sleeps, retried, pool };
}

async function run(client: LlmClient): Promise<{ texts: string[]; error?: LlmError }> {
  const texts: string[] = [];
  try {
    for await (const event of client.stream(request)) if (event.type === 'text') texts.push(event.text);
  } catch (error) {
    return { texts, error: error as LlmError };
  }
  return { texts };
}

const overloaded = () => new LlmError('overloaded', 'Overloaded.', 529);

describe('ResilientLlmClient', () => {
  it('retries 529, 5xx and connection failures with full-jitter backoff, then succeeds', async () => {
    const { client, clients, sleeps, retried } = setup([
      [{ fail: overloaded() }, { fail: new LlmError('connection', 'reset') }, { text: 'fine' }],
    ]);
    const { texts, error } = await run(client);
    expect(error).toBeUndefined();
    expect(texts).toEqual(['fine']);
    expect(clients[0].calls).toBe(3);
    // random() = 0.5: half of min(cap, base·2ⁿ) for n = 0, 1.
    expect(sleeps).toEqual([50, 100]);
    expect(retried).toEqual(['overloaded', 'connection']);
  });

  it('gives up after the configured retries with the last failure, saying how many attempts it made', async () => {
    const { client, clients } = setup([
      [{ fail: overloaded() }, { fail: overloaded() }, { fail: overloaded() }],
    ]);
    const { error } = await run(client);
    expect(error).toMatchObject({ kind: 'overloaded', status: 529 });
    expect(error!.message).toMatch(/Gave up after 3 attempts\.$/);
    expect(clients[0].calls).toBe(3);
  });

  it('never retries a spend limit, a bad request or a cancelled call', async () => {
    for (const failure of [
      new LlmError('billing', 'spend limit', 429),
      new LlmError('invalid_request', 'bad', 400),
      new LlmError('aborted', 'cancelled'),
    ]) {
      const { client, clients, sleeps } = setup([[{ fail: failure }]]);
      const { error } = await run(client);
      expect(error).toBe(failure);
      expect(clients[0].calls).toBe(1);
      expect(sleeps).toEqual([]);
    }
  });

  it('does not retry a call that already streamed text to its caller', async () => {
    const { client, clients } = setup([
      [{ text: 'Half an ans', failAfterText: new LlmError('connection', 'cut') }],
    ]);
    const { texts, error } = await run(client);
    expect(texts).toEqual(['Half an ans']);
    expect(error).toMatchObject({ kind: 'connection' });
    expect(clients[0].calls).toBe(1);
  });

  it('does not retry a call that already streamed thinking to its caller', async () => {
    const { client, clients } = setup([
      [{ text: 'Let me th', thinkingOnly: true, failAfterText: new LlmError('connection', 'cut') }],
    ]);
    const { error } = await run(client);
    expect(error).toMatchObject({ kind: 'connection' });
    expect(clients[0].calls).toBe(1);
  });

  it('honours retry-after on a 429 with one key, and parks the key for every instance', async () => {
    const { client, keys, limiter, sleeps } = setup([
      [{ fail: new LlmError('rate_limited', 'slow down', 429, 0.7) }, { text: 'ok' }],
    ]);
    await run(client);
    expect(sleeps).toEqual([700]);
    expect(limiter.penalties).toEqual([{ keyId: keys[0].id, ms: 700 }]);
  });

  it('moves a 429 retry to another key at once', async () => {
    const { client, clients, keys, limiter, sleeps } = setup([
      [{ fail: new LlmError('rate_limited', 'slow down', 429, 30) }],
      [{ text: 'from the second key' }],
    ]);
    const { texts } = await run(client);
    expect(texts).toEqual(['from the second key']);
    expect(limiter.penalties).toEqual([{ keyId: keys[0].id, ms: 30_000 }]);
    expect(sleeps).toEqual([0]);
    expect(clients.map((c) => c.calls)).toEqual([1, 1]);
  });

  it('takes a key answered with 401 out of the pool and goes on with the others, without counting a retry', async () => {
    const { client, clients, pool } = setup(
      [[{ fail: new LlmError('authentication', 'bad key', 401) }], [{ text: 'a' }, { text: 'b' }]],
      0,
    );
    expect((await run(client)).texts).toEqual(['a']);
    expect((await run(client)).texts).toEqual(['b']);
    expect(clients.map((c) => c.calls)).toEqual([1, 2]);
    expect(pool.status()).toMatchObject({
      total: 2,
      active: 1,
      keys: [{ status: 'removed', reason: expect.stringContaining('401') }, { status: 'active' }],
    });
  });

  it('fails with authentication once no key is left', async () => {
    const { client } = setup([[{ fail: new LlmError('authentication', 'bad key', 403) }]]);
    expect((await run(client)).error).toMatchObject({ kind: 'authentication', status: 403 });
    expect((await run(client)).error).toMatchObject({
      kind: 'authentication',
      message: expect.stringContaining('none is left'),
    });
  });

  it('spreads calls across the keys of the pool', async () => {
    const { client, clients } = setup([[], [], []]);
    for (let i = 0; i < 6; i += 1) await run(client);
    expect(clients.map((c) => c.calls)).toEqual([2, 2, 2]);
  });

  it('settles the rate limit to the tokens the call used, and to none for a failed attempt', async () => {
    const { client, limiter } = setup([[{ fail: overloaded() }, { text: 'ok' }]]);
    await run(client);
    expect(limiter.settled).toEqual([0, 15]);
  });

  it('asks the limiter for the estimated prompt plus max_tokens, or nothing when it does not count tokens', async () => {
    const counting = setup([[]]);
    await run(counting.client);
    expect(counting.limiter.asked).toHaveLength(1);
    expect(counting.limiter.asked[0]).toBeGreaterThan(request.maxTokens);
    const notCounting = setup([[]], 2, false);
    await run(notCounting.client);
    expect(notCounting.limiter.asked).toEqual([0]);
  });

  it('announces a billed attempt before retrying it, and settles the rate limit to what it billed', async () => {
    const billed = overloaded();
    billed.partial = {
      model: 'claude-sonnet-4-6',
      usage: {
        input_tokens: 40,
        output_tokens: 1,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 9,
      },
      outputEstimated: true,
      latency_ms: 3,
      time_to_first_token_ms: null,
    };
    const { client, limiter } = setup([[{ fail: billed }, { text: 'ok' }]]);
    const events: LlmStreamEvent[] = [];
    for await (const event of client.stream(request)) events.push(event);
    expect(events.map((e) => e.type)).toEqual(['attempt_failed', 'text', 'result']);
    expect(events[0]).toEqual({ type: 'attempt_failed', error: billed });
    expect(limiter.settled).toEqual([50, 15]);
  });

  it('keeps what the last attempt billed on the error it gives up with', async () => {
    const billed = overloaded();
    billed.partial = {
      model: 'claude-sonnet-4-6',
      usage: {
        input_tokens: 40,
        output_tokens: 1,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
      outputEstimated: true,
      latency_ms: 3,
      time_to_first_token_ms: null,
    };
    const { client } = setup([[{ fail: billed }]], 0);
    const { error } = await run(client);
    expect(error?.message).toMatch(/Gave up after 1 attempt/);
    expect(error?.partial).toBe(billed.partial);
  });
});
