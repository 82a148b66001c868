// Long conversations end to end: the request sent to the model stays within the conversation's context budget
// (old tool results cleared, older turns summarised into stored summaries), "prompt is too long" is recovered from,
// and prompt-cache breakpoints make later turns read their prefix from the provider's cache. The fake provider
// enforces a context window, emulates the prefix cache and answers the summariser's requests.
import type { DataSource } from 'typeorm';
import { FakeAnthropic, promptTokens, RecordedRequest } from './support/fake-anthropic';
import { startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';

// The long conversation runs a hundred turns on a shared, busy machine.
jest.setTimeout(120_000);

/** The conversation's context budget (the bound: a token per byte of the request). */
const BUDGET = 24_000;
/** The window the fake enforces, in its own tokens (about four characters each): what BUDGET can reach at most. */
const FAKE_WINDOW = BUDGET / 4;

const isSummaryRequest = (r: RecordedRequest) =>
  /running summary of a conversation/.test(JSON.stringify(r.body.system));

/** A calculator expression of about 150 characters, different for each call. */
const expression = (n: number) => Array.from({ length: 30 }, (_, k) => String(n * 31 + k)).join(' + ');

describe('long conversations', () => {
  let fake: FakeAnthropic;
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    t = await startTestApp({
      ANTHROPIC_API_KEY: 'sk-ant-long-conversations',
      ANTHROPIC_BASE_URL: fake.url,
      ANTHROPIC_MODEL: 'claude-sonnet-4-6',
      LLM_MAX_RETRIES: '0',
      CONTEXT_SUMMARY_MAX_TOKENS: '400',
      CONVERSATION_COST_LIMIT_USD: '0',
    });
    db = await openTestDataSource();
  });
  afterEach(() => {
    fake.reset();
    fake.setContextWindow(undefined);
    fake.setPromptCache(false);
  });
  afterAll(async () => {
    await db.destroy();
    await t.close();
    await fake.stop();
  });

  const newConversation = async (json: Record<string, unknown> = {}): Promise<string> => {
    const res = await t.request('POST', '/v1/conversations', { json: { agent_name: 'support', ...json } });
    expect(res.status).toBe(201);
    return res.body.id;
  };
  const chat = (conversationId: string, message: string) =>
    t.request('POST', '/v1/chat', { json: { conversation_id: conversationId, message } });
  const agentRequests = () => fake.requests.filter((r) => !isSummaryRequest(r));
  const summaries = (conversationId: string): Promise<Array<Record<string, any>>> =>
    db.query(`SELECT * FROM conversation_summaries WHERE conversation_id = $1 ORDER BY last_seq`, [
      conversationId,
    ]);

  /** Each turn: the model calls the calculator `toolsPerTurn` times at once, then answers. */
  function scriptToolTurns(toolsPerTurn: number): void {
    let call = 0;
    fake.respondWith((request) => {
      const last = request.body.messages.at(-1)!;
      const afterTools =
        Array.isArray(last.content) && last.content.some((b: any) => b.type === 'tool_result');
      if (afterTools) return { text: `The totals are computed (${call} so far).` };
      return {
        toolUses: Array.from({ length: toolsPerTurn }, () => {
          call += 1;
          return { name: 'calculator', input: { expression: expression(call) } };
        }),
      };
    });
  }

  it('accepts a conversation context budget of at least 1000 tokens and shows it; refuses others with a 400', async () => {
    const created = await t.request('POST', '/v1/conversations', {
      json: { agent_name: 'support', max_context_tokens: 50_000 },
    });
    expect(created.status).toBe(201);
    expect(created.body.max_context_tokens).toBe(50_000);
    const read = await t.request('GET', `/v1/conversations/${created.body.id}`);
    expect(read.body.max_context_tokens).toBe(50_000);
    for (const bad of [999, 1.5, '5000', 20_000_000]) {
      const refused = await t.request('POST', '/v1/conversations', {
        json: { agent_name: 'support', max_context_tokens: bad },
      });
      expect(refused.status).toBe(400);
      expect(refused.body.error.type).toBe('validation_error');
      expect(refused.body.error.details).toEqual([expect.objectContaining({ field: 'max_context_tokens' })]);
    }
    const plain = await t.request('POST', '/v1/conversations', { json: { agent_name: 'support' } });
    expect(plain.body.max_context_tokens).toBeNull();
  });

  it('keeps a conversation three times the window answering, within the window, with every message stored', async () => {
    fake.setContextWindow(FAKE_WINDOW);
    scriptToolTurns(8);
    const id = await newConversation({ max_context_tokens: BUDGET });
    const turns = 25;
    const outcomes: Array<{ status: number; compacted: boolean; context_tokens: number }> = [];
    for (let turn = 0; turn < turns; turn += 1) {
      const res = await chat(id, `Turn ${turn}: add up the next eight series, please.`);
      outcomes.push({
        status: res.status,
        compacted: res.body.compacted,
        context_tokens: res.body.context_tokens,
      });
      if (res.status !== 200)
        throw new Error(`turn ${turn} answered ${res.status}: ${JSON.stringify(res.body)}`);
    }

    // Every turn answered, no request was ever refused as too long, and each stayed within the window.
    expect(outcomes.every((o) => o.status === 200)).toBe(true);
    expect(fake.overflows).toBe(0);
    for (const request of fake.requests) expect(promptTokens(request.body)).toBeLessThanOrEqual(FAKE_WINDOW);
    expect(outcomes.some((o) => o.compacted)).toBe(true);
    expect(outcomes.every((o) => o.context_tokens > 0 && o.context_tokens <= FAKE_WINDOW)).toBe(true);

    // The stored history keeps every message: 200 tool calls, each with its result, in 25 turns of 4 messages.
    const stored = await t.request('GET', `/v1/conversations/${id}`);
    expect(stored.status).toBe(200);
    expect(stored.body.message_count).toBe(turns * 4);
    expect(stored.body.messages).toHaveLength(turns * 4);
    const blocks = stored.body.messages.flatMap((m: any) => (Array.isArray(m.content) ? m.content : []));
    const uses = blocks.filter((b: any) => b.type === 'tool_use');
    const results = blocks.filter((b: any) => b.type === 'tool_result');
    expect(uses).toHaveLength(200);
    expect(results.map((b: any) => b.tool_use_id).sort()).toEqual(uses.map((b: any) => b.id).sort());
    // No stored result was replaced by the placeholder sent to the model.
    expect(results.every((b: any) => !String(b.content).includes('cleared from the context'))).toBe(true);
    const history = promptTokens({ model: 'x', max_tokens: 1, messages: stored.body.messages });
    expect(history).toBeGreaterThanOrEqual(3 * FAKE_WINDOW);

    // Older turns went into stored summaries; their calls are recorded and billed like the agent's own.
    const written = await summaries(id);
    expect(written.length).toBeGreaterThanOrEqual(1);
    expect(written.every((s) => s.first_seq === 0 && s.tenant_id === t.tenantId && s.text.length > 0)).toBe(
      true,
    );
    const calls: Array<{ n: number }> = await db.query(
      `SELECT count(*)::int AS n FROM llm_calls WHERE conversation_id = $1`,
      [id],
    );
    expect(calls[0].n).toBe(fake.requests.length);
    expect(fake.summaryRequests).toBeGreaterThanOrEqual(written.length);

    // A compacted request starts with a user message holding the summary, and no tool result lacks its tool use
    // (the fake refuses such a request with a 400, which no turn got).
    const compacted = agentRequests().filter((r) =>
      JSON.stringify(r.body.messages[0]).includes('conversation_summary'),
    );
    expect(compacted.length).toBeGreaterThan(0);
    for (const request of compacted) expect(request.body.messages[0].role).toBe('user');
  });

  it('reuses a stored summary on the next turn instead of writing it again, its new prefix read from the cache', async () => {
    fake.setPromptCache(true);
    scriptToolTurns(3);
    const id = await newConversation({ max_context_tokens: BUDGET });
    let turn = 0;
    while (fake.summaryRequests === 0 && turn < 40) {
      expect((await chat(id, `Turn ${turn}: three more sums.`)).status).toBe(200);
      turn += 1;
    }
    expect(fake.summaryRequests).toBeGreaterThan(0);
    const stored = await summaries(id);
    const summary = stored.at(-1)!;
    const summariesBefore = fake.summaryRequests;
    const requestsBefore = fake.requests.length;

    const next = await chat(id, 'One more, please.');
    expect(next.status).toBe(200);
    expect(next.body.compacted).toBe(true);
    // The next turn made its two agent calls and no summary call; both sent the stored summary's text.
    expect(fake.summaryRequests).toBe(summariesBefore);
    const sent = fake.requests.slice(requestsBefore);
    expect(sent).toHaveLength(2);
    for (const request of sent) {
      const first = JSON.stringify(request.body.messages[0].content);
      expect(first).toContain(JSON.stringify(summary.text).slice(1, -1));
    }
    expect(await summaries(id)).toHaveLength(stored.length);
    // The compacted prefix (tools, system prompt, summary and the turns kept) was cached by the turn that wrote the
    // summary: this turn's first call reads it back, summary included. (Its two calls are stored in one statement,
    // with one created_at: the first is the one with less input.)
    const calls: Array<Record<string, number>> = await db.query(
      `SELECT input_tokens, cache_read_input_tokens, cache_creation_input_tokens FROM llm_calls
        WHERE conversation_id = $1 AND created_at = (SELECT max(created_at) FROM llm_calls WHERE conversation_id = $1)`,
      [id],
    );
    const total = (c: Record<string, number>) =>
      c.input_tokens + c.cache_read_input_tokens + c.cache_creation_input_tokens;
    const firstCall = calls.reduce((a, b) => (total(a) <= total(b) ? a : b));
    const throughSummary = promptTokens({ ...sent[0].body, messages: sent[0].body.messages.slice(0, 1) });
    expect(firstCall.cache_read_input_tokens).toBeGreaterThanOrEqual(throughSummary);
  });

  it('recovers from a provider "prompt is too long" by compacting further and retrying once', async () => {
    const id = await newConversation();
    for (let turn = 0; turn < 4; turn += 1) {
      fake.enqueue({ text: `Answer ${turn}: here is what you asked about, in some detail.` });
      expect((await chat(id, `Question ${turn}: tell me about your shipping options.`)).status).toBe(200);
    }
    fake.reset();
    // The provider counts more than the model takes, whatever the budget says.
    fake.enqueue(
      { status: 400, message: 'prompt is too long: 250000 tokens > 200000 maximum' },
      { text: 'Recovered answer.' },
    );
    const res = await chat(id, 'And what about returns?');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      response: 'Recovered answer.',
      compacted: true,
      stop_reason: 'end_turn',
    });
    // The refused request, the summary of the older turns, then the retry starting with that summary.
    expect(fake.requests).toHaveLength(3);
    expect(isSummaryRequest(fake.requests[1])).toBe(true);
    expect(JSON.stringify(fake.requests[2].body.messages[0])).toContain('conversation_summary');
    expect(fake.requests[2].body.messages.length).toBeLessThan(fake.requests[0].body.messages.length);
    // The conversation goes on: the next turn answers too, from the stored summary.
    fake.enqueue({ text: 'Still here.' });
    const after = await chat(id, 'Thanks!');
    expect(after.status).toBe(200);
    expect(fake.summaryRequests).toBe(1);
    expect((await t.request('GET', `/v1/conversations/${id}`)).body.message_count).toBe(12);
  });

  it('keeps answering when the model takes less than the configured window: each overflow is compacted away', async () => {
    scriptToolTurns(4);
    const id = await newConversation();
    for (let turn = 0; turn < 6; turn += 1)
      expect((await chat(id, `Sums ${turn}, please.`)).status).toBe(200);
    // The provider now takes far less than the 200,000-token window the table gives the model.
    fake.setContextWindow(4_000);
    const statuses: number[] = [];
    for (let turn = 6; turn < 14; turn += 1) statuses.push((await chat(id, `Sums ${turn}, please.`)).status);
    expect(statuses.every((status) => status === 200)).toBe(true);
    // The fake refused requests over its window with the API's own 400, and each was compacted and retried.
    expect(fake.overflows).toBeGreaterThan(0);
    expect(fake.summaryRequests).toBeGreaterThanOrEqual(fake.overflows);
    expect((await t.request('GET', `/v1/conversations/${id}`)).body.message_count).toBe(14 * 4);
  });

  it('retries a "prompt is too long" only once; the turn then fails, and the next turn answers', async () => {
    const id = await newConversation();
    for (let turn = 0; turn < 3; turn += 1) {
      fake.enqueue({ text: `Answer ${turn}.` });
      expect((await chat(id, `Question ${turn}.`)).status).toBe(200);
    }
    fake.reset();
    const tooLong = { status: 400, message: 'prompt is too long: 250000 tokens > 200000 maximum' };
    fake.enqueue(tooLong, tooLong);
    const failed = await chat(id, 'Still there?');
    expect(failed.status).toBe(502);
    expect(failed.body.error.type).toBe('upstream_error');
    // Two agent requests (the first and its one retry) and the summary between them.
    expect(agentRequests()).toHaveLength(2);
    expect(fake.summaryRequests).toBe(1);

    fake.enqueue({ text: 'Yes, still here.' });
    const next = await chat(id, 'Hello again?');
    expect(next.status).toBe(200);
    expect(next.body.response).toBe('Yes, still here.');
    // The failed turn stored nothing; the summary it wrote stays and is reused.
    expect(fake.summaryRequests).toBe(1);
    expect((await t.request('GET', `/v1/conversations/${id}`)).body.message_count).toBe(8);
  });

  it('reads at least 85% of the input from the prompt cache from the second turn on', async () => {
    fake.setPromptCache({ minTokens: 1024 });
    const id = await newConversation();
    let toolCalls = 0;
    const perTurn: Array<{ input: number; read: number }> = [];
    for (let turn = 0; turn < 10; turn += 1) {
      // Three of the ten turns call a tool first.
      if (turn % 3 === 1) {
        toolCalls += 1;
        fake.enqueue({ toolUses: [{ name: 'calculator', input: { expression: expression(turn) } }] });
      }
      fake.enqueue({ text: `Answer ${turn}: a short, friendly reply about the order and what comes next.` });
      const res = await chat(id, `Message ${turn}: I have a question about my order.`);
      expect(res.status).toBe(200);
      perTurn.push({ input: res.body.input_tokens, read: res.body.cache_read_input_tokens });
    }
    expect(toolCalls).toBe(3);
    const later = perTurn.slice(1);
    const ratio = later.reduce((n, t) => n + t.read, 0) / later.reduce((n, t) => n + t.input, 0);
    expect(ratio).toBeGreaterThanOrEqual(0.85);
    // The breakpoints: the last tool, the system prompt and the conversation's tail, four at most.
    const last = fake.requests.at(-1)!.body;
    expect(last.tools?.at(-1)).toHaveProperty('cache_control', { type: 'ephemeral' });
    expect(last.system).toEqual([expect.objectContaining({ cache_control: { type: 'ephemeral' } })]);
    expect(JSON.stringify(last).split('"cache_control"').length - 1).toBeLessThanOrEqual(4);
    // /v1/usage shows the cache reads, and /metrics the hit ratio per agent.
    const usage = await t.request('GET', '/v1/usage?group_by=conversation');
    const row = usage.body.rows.find((r: { key: string }) => r.key === id);
    expect(row.cache_read_input_tokens).toBeGreaterThan(0);
    const metrics = await t.request('GET', '/metrics', { key: t.adminKey });
    expect(metrics.body).toMatch(/llm_prompt_cache_hit_ratio\{agent="support"\} 0\.\d+/);
  });
});
