// Human approvals end to end (contract version 2, "Approvals"): a run pauses at a tool call that needs a decision,
// waits in PostgreSQL (no lock, no worker slot), survives restarts, and continues on whichever instance records
// the decision — approved calls run once, denied and expired ones become `is_error` results. Real PostgreSQL, Redis,
// Bull, HTTP, sockets and a worker process; only the model provider is the fake server.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import { ApiKeyService } from '@lib/auth';
import { argumentsSha256 } from '@lib/runs';
import { FakeAnthropic, FakeReply, FakeToolUse, RecordedRequest } from './support/fake-anthropic';
import { startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';
import { connectSocket, TestSocket } from './support/socket';
import { removeQueueKeys, testQueuePrefix, waitForStatus, waitUntil } from './support/tasks';
import { testEnv } from './support/test-env';
import { startWorker, WorkerProcess } from './support/worker';

jest.setTimeout(60_000);

const TICKET = (subject: string): FakeToolUse => ({
  name: 'create_support_ticket',
  input: { subject, description: `The customer reports: ${subject}.`, priority: 'high' },
});
const LOOKUP: FakeToolUse = { name: 'lookup_order', input: { order_number: '1001' } };

interface Block {
  type: string;
  id?: string;
  name?: string;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
}

/** The tool results the request sends back to the model (its last user message), by tool_use id. */
function resultsOf(request: RecordedRequest): Map<string, Block> {
  const last = request.body.messages.at(-1);
  const blocks = Array.isArray(last?.content) ? (last.content as Block[]) : [];
  return new Map(blocks.filter((b) => b.type === 'tool_result').map((b) => [b.tool_use_id!, b]));
}

/**
 * A model that asks for `tools` on a new user message and, once it has their results, answers with a line per
 * result (`<tool>: ok|error <text>`), so what the tools returned is visible in the answer.
 */
function modelCalling(tools: FakeToolUse[]) {
  return (request: RecordedRequest): FakeReply => {
    const results = resultsOf(request);
    if (!results.size) return { toolUses: tools.map((tool) => ({ ...tool, id: `toolu_${randomUUID()}` })) };
    const uses = new Map<string, string>();
    for (const message of request.body.messages) {
      if (!Array.isArray(message.content)) continue;
      for (const block of message.content as Block[])
        if (block.type === 'tool_use') uses.set(block.id!, block.name!);
    }
    const lines = [...results.values()].map(
      (r) => `${uses.get(r.tool_use_id!)}: ${r.is_error ? 'error' : 'ok'} ${String(r.content).slice(0, 120)}`,
    );
    return { text: lines.join('\n') };
  };
}

interface SseFrame {
  id?: number;
  event?: string;
  data?: any;
}

/** Reads SSE frames from a response until `until` holds for one (then stops reading). */
async function readSse(response: Response, until: (frame: SseFrame) => boolean): Promise<SseFrame[]> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const frames: SseFrame[] = [];
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return frames;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const frame: SseFrame = {};
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) frame.id = Number(line.slice(4));
        else if (line.startsWith('event: ')) frame.event = line.slice(7);
        else if (line.startsWith('data: ')) frame.data = JSON.parse(line.slice(6));
      }
      if (!frame.event) continue;
      frames.push(frame);
      if (until(frame)) {
        await reader.cancel();
        return frames;
      }
    }
  }
}

/** Every tool_use of a stored conversation has its tool_result in the next message, and nothing else is left. */
function expectEveryToolUsePaired(messages: Array<{ role: string; content: unknown }>): void {
  messages.forEach((message, index) => {
    if (!Array.isArray(message.content)) return;
    const uses = (message.content as Block[]).filter((b) => b.type === 'tool_use').map((b) => b.id);
    if (!uses.length) return;
    const next = messages[index + 1];
    const results = Array.isArray(next?.content)
      ? (next.content as Block[]).filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id)
      : [];
    expect(results.sort()).toEqual([...uses].sort());
  });
}

describe('approvals (human in the loop)', () => {
  const prefix = testQueuePrefix('approvals');
  let fake: FakeAnthropic;
  let a: TestApp;
  let b: TestApp;
  let db: DataSource;
  const sockets: TestSocket[] = [];
  /** Task webhooks received, by event. */
  const webhooks: Array<{ event: string; task: { task_id: string; status: string } }> = [];
  let receiver: Server;
  const webhookSecret = `whsec_${randomBytes(32).toString('base64')}`;
  /** The deployment's worker process: task runs execute here (TASK_CONCURRENCY 1). */
  let worker: WorkerProcess;
  const workerEnv = () => testEnv(env({ TASK_CONCURRENCY: '1' }));
  let webhookUrl: string;

  const env = (overrides: Record<string, string> = {}) => ({
    ANTHROPIC_API_KEY: 'sk-ant-test',
    ANTHROPIC_BASE_URL: fake.url,
    ANTHROPIC_MODEL: 'claude-sonnet-4-6',
    LLM_MAX_RETRIES: '0',
    RATE_LIMIT_REQUESTS: '0',
    QUEUE_PREFIX: prefix,
    TASK_MAX_ATTEMPTS: '1',
    APPROVAL_SWEEP_INTERVAL_MS: '200',
    WEBHOOK_SECRET: webhookSecret,
    OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
    ...overrides,
  });

  /** An agent whose operator requires approval for tickets (stored: every process of the deployment sees it). */
  const createSupervised = async () => {
    const res = await a.request('POST', '/v1/agents', {
      key: a.adminKey,
      json: {
        name: 'supervised',
        description: 'Support whose tickets a person approves.',
        system_prompt: 'Test.',
        max_iterations: 4,
        max_tokens: 256,
        tools: ['lookup_order', { name: 'create_support_ticket', requires_approval: true }],
      },
    });
    expect(res.status).toBe(201);
  };

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        webhooks.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await new Promise((resolve) => receiver.once('listening', resolve));
    webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    fake = await FakeAnthropic.start();
    // Two API instances and a worker process with one task slot; B's approvals expire after a second.
    a = await startTestApp(env({ RUN_WORKERS_IN_API: 'false' }));
    b = await startTestApp({
      ...env({ RUN_WORKERS_IN_API: 'false', APPROVAL_TIMEOUT_SECONDS: '1' }),
      DEFAULT_TENANT: a.tenantId,
    });
    await createSupervised();
    db = await openTestDataSource();
    worker = await startWorker(workerEnv());
  });

  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
    fake.reset();
  });

  afterAll(async () => {
    await worker?.stop();
    await b?.close();
    await a?.close();
    await db?.destroy();
    await fake?.stop();
    await new Promise((resolve) => receiver?.close(resolve));
    await removeQueueKeys(prefix);
  });

  const socketOn = async (app: TestApp) => {
    const s = await connectSocket(app.url, a.userKey);
    sockets.push(s);
    return s;
  };
  const newConversation = async (requireApproval: string[] = ['create_support_ticket'], app = a) => {
    const res = await app.request('POST', '/v1/conversations', {
      json: { agent_name: 'support', require_approval: requireApproval },
      key: a.userKey,
    });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const runOf = async (id: string, app = a) =>
    (await app.request('GET', `/v1/runs/${id}`, { key: a.userKey })).body;
  const waitForRun = (id: string, statuses: string[], app = a) =>
    waitUntil(
      () => runOf(id, app),
      (run) => statuses.includes(run.status),
      15_000,
      `run ${id} ${statuses}`,
    );
  const messages = async (conversationId: string) =>
    (await a.request('GET', `/v1/conversations/${conversationId}`)).body.messages as Array<{
      role: string;
      content: unknown;
    }>;
  const tickets = async () =>
    Number(
      (await db.query(`SELECT count(*) AS n FROM support_tickets WHERE tenant_id = $1`, [a.tenantId]))[0].n,
    );
  const decide = (runId: string, decisions: unknown, app = a, key = a.userKey) =>
    app.request('POST', `/v1/runs/${runId}/approvals`, { json: { decisions }, key });

  describe('conversations that add approvals', () => {
    it('records require_approval and refuses names that are not tools of the agent', async () => {
      const ok = await a.request('POST', '/v1/conversations', {
        json: { agent_name: 'support', require_approval: ['create_support_ticket', 'create_support_ticket'] },
      });
      expect(ok.status).toBe(201);
      expect(ok.body.require_approval).toEqual(['create_support_ticket']);
      const plain = await a.request('POST', '/v1/conversations', { json: { agent_name: 'support' } });
      expect(plain.body.require_approval).toEqual([]);

      for (const require_approval of [
        ['get_pricing'],
        ['no_such_tool'],
        'create_support_ticket',
        [42],
        [''],
      ]) {
        const res = await a.request('POST', '/v1/conversations', {
          json: { agent_name: 'support', require_approval },
        });
        expect(res.status).toBe(400);
        expect(res.body.error.type).toBe('validation_error');
        expect(res.body.error.details[0].field).toMatch(/^require_approval/);
      }
    });
  });

  describe('a paused chat turn', () => {
    it('runs the calls that need no approval, pauses the others, and an approval runs the tool exactly once', async () => {
      fake.respondWith(modelCalling([LOOKUP, TICKET('Keyboard arrived broken')]));
      const conversationId = await newConversation();
      const before = await tickets();

      const turn = await a.request('POST', '/v1/chat', {
        json: { message: 'My keyboard from order 1001 is broken', conversation_id: conversationId },
      });
      expect(turn.status).toBe(200);
      expect(turn.body.stop_reason).toBe('requires_approval');
      expect(turn.body.message_id).toBeNull();
      expect(turn.body.tools_used.map((t: { tool_name: string }) => t.tool_name)).toEqual(['lookup_order']);
      const [pending] = turn.body.pending_approvals;
      expect(turn.body.pending_approvals).toHaveLength(1);
      expect(pending).toEqual({
        tool_use_id: expect.stringMatching(/^toolu_/),
        tool_name: 'create_support_ticket',
        arguments: TICKET('Keyboard arrived broken').input,
        arguments_sha256: argumentsSha256(TICKET('Keyboard arrived broken').input),
        expires_at: expect.any(String),
      });
      const runId = turn.body.run_id as string;

      const run = await runOf(runId);
      expect(run).toMatchObject({ status: 'requires_action', stop_reason: 'requires_approval' });
      expect(run.pending_approvals).toEqual([pending]);
      const inbox = await a.request('GET', '/v1/approvals?status=pending');
      expect(inbox.status).toBe(200);
      expect(inbox.body.approvals).toContainEqual(
        expect.objectContaining({
          run_id: runId,
          conversation_id: conversationId,
          status: 'pending',
          ...pending,
        }),
      );
      // Nothing is stored until the run completes, the ticket is not open, and the conversation is the run's.
      expect(await messages(conversationId)).toEqual([]);
      expect(await tickets()).toBe(before);
      const busy = await a.request('POST', '/v1/chat', {
        json: { message: 'Hello?', conversation_id: conversationId },
      });
      expect(busy.status).toBe(409);
      expect(busy.body.error.type).toBe('conversation_busy');
      expect(busy.body.error.message).toContain('awaits approval');
      expect(busy.body.error.details).toEqual([
        { field: 'conversation_id', message: expect.stringContaining(runId) },
      ]);
      const requestsBefore = fake.requests.length;

      const approved = await decide(runId, [
        { tool_use_id: pending.tool_use_id, approve: true, arguments_sha256: pending.arguments_sha256 },
      ]);
      expect(approved.status).toBe(202);
      expect(approved.body.run_id).toBe(runId);
      const done = await waitForRun(runId, ['completed', 'failed']);
      expect(done).toMatchObject({ status: 'completed', stop_reason: 'end_turn', pending_approvals: [] });

      // The model was asked once more (the first response was replayed, not requested again); one ticket opened.
      expect(fake.requests.length).toBe(requestsBefore + 1);
      expect(await tickets()).toBe(before + 1);
      // Both model calls are recorded once, the one made before the pause included.
      const [calls] = await db.query(`SELECT count(*) AS n FROM llm_calls WHERE conversation_id = $1`, [
        conversationId,
      ]);
      expect(Number(calls.n)).toBe(2);
      const stored = await messages(conversationId);
      expect(stored.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
      expectEveryToolUsePaired(stored);
      expect(JSON.stringify(stored[3].content)).toContain('create_support_ticket: ok');

      const decided = await a.request('GET', '/v1/approvals?status=decided');
      expect(decided.body.approvals).toContainEqual(
        expect.objectContaining({
          run_id: runId,
          tool_use_id: pending.tool_use_id,
          status: 'approved',
          decided_by: a.userKeyId,
          decided_at: expect.any(String),
        }),
      );
      // A second decision on the same call changes nothing.
      const again = await decide(runId, [{ tool_use_id: pending.tool_use_id, approve: false }]);
      expect(again.status).toBe(409);
      expect(await tickets()).toBe(before + 1);
    });

    it('refuses bad decisions with the contract errors, never a 500, and runs nothing', async () => {
      fake.respondWith(modelCalling([TICKET('Refund please')]));
      const conversationId = await newConversation();
      const turn = await a.request('POST', '/v1/chat', {
        json: { message: 'I want a refund', conversation_id: conversationId },
      });
      expect(turn.body.stop_reason).toBe('requires_approval');
      const runId = turn.body.run_id as string;
      const [pending] = turn.body.pending_approvals;
      const before = await tickets();
      const otherKey = (
        await a.app
          .get(ApiKeyService)
          .create({ tenant: `test-other-${randomUUID()}`, role: 'user', name: 'other' })
      ).key;

      const cases: Array<[unknown, number, string]> = [
        [[{ tool_use_id: 'toolu_unknown', approve: true }], 404, 'not_found'],
        [
          [{ tool_use_id: pending.tool_use_id, approve: true, arguments_sha256: 'a'.repeat(64) }],
          409,
          'conversation_busy',
        ],
        [[], 400, 'validation_error'],
        [[{ tool_use_id: pending.tool_use_id }], 400, 'validation_error'],
        [[{ tool_use_id: pending.tool_use_id, approve: 'yes' }], 400, 'validation_error'],
        [
          [{ tool_use_id: pending.tool_use_id, approve: true, arguments_sha256: 'nothex' }],
          400,
          'validation_error',
        ],
        [
          [
            { tool_use_id: pending.tool_use_id, approve: true },
            { tool_use_id: pending.tool_use_id, approve: false },
          ],
          400,
          'validation_error',
        ],
        ['approve', 400, 'validation_error'],
      ];
      for (const [decisions, status, type] of cases) {
        const res = await decide(runId, decisions);
        expect({ decisions, status: res.status, type: res.body.error?.type }).toEqual({
          decisions,
          status,
          type,
        });
      }
      const mismatch = await decide(runId, [
        { tool_use_id: pending.tool_use_id, approve: true, arguments_sha256: 'b'.repeat(64) },
      ]);
      expect(mismatch.body.error.details[0].field).toBe('decisions[0].arguments_sha256');
      expect(
        (await decide(runId, [{ tool_use_id: pending.tool_use_id, approve: true }], a, otherKey)).status,
      ).toBe(404);
      expect((await decide(randomUUID(), [{ tool_use_id: pending.tool_use_id, approve: true }])).status).toBe(
        404,
      );
      expect(
        (await a.request('POST', '/v1/runs/not-a-uuid/approvals', { json: { decisions: [] } })).status,
      ).toBe(400);
      expect((await a.request('GET', '/v1/approvals?status=maybe')).status).toBe(400);
      const foreignInbox = await a.request('GET', '/v1/approvals?status=pending', { key: otherKey });
      expect(foreignInbox.body.approvals).toEqual([]);

      // All of that left the call waiting and nothing ran; a decision on a run that is not waiting is refused.
      expect(await runOf(runId)).toMatchObject({ status: 'requires_action' });
      expect(await tickets()).toBe(before);
      expect((await decide(runId, [{ tool_use_id: pending.tool_use_id, approve: false }])).status).toBe(202);
      await waitForRun(runId, ['completed']);
      const late = await decide(runId, [{ tool_use_id: pending.tool_use_id, approve: true }]);
      expect(late.status).toBe(409);
      expect(await tickets()).toBe(before);
    });

    it('takes a denial over the socket, with or without an acknowledgement, and the model goes on', async () => {
      fake.respondWith(modelCalling([TICKET('Change my address'), TICKET('Cancel my order')]));
      const conversationId = await newConversation();
      const s = await socketOn(a);
      const ack = await s.ack('message', { message: 'Two things', conversation_id: conversationId });
      expect(ack).toMatchObject({ conversation_id: conversationId });
      const runId = (ack as { run_id: string }).run_id;
      const done = await s.next('done', (d) => d.run_id === runId);
      expect(done.stop_reason).toBe('requires_approval');
      const required = s.received('approval_required').filter((e) => e.run_id === runId);
      expect(required).toHaveLength(2);
      for (const event of required) {
        expect(event.seq).toBeLessThan(done.seq);
        expect(event.arguments_sha256).toBe(argumentsSha256(event.arguments));
      }
      const before = await tickets();

      // One decision with an acknowledgement: the run still waits for the other.
      const first = await s.ack('approve', {
        run_id: runId,
        tool_use_id: required[0].tool_use_id,
        approve: false,
        reason: 'Address changes need a phone call.',
      });
      expect(first).toEqual({ run_id: runId, tool_use_id: required[0].tool_use_id });
      expect(await runOf(runId)).toMatchObject({ status: 'requires_action' });
      // A refused one is acknowledged with the error; without a callback it comes as an `error` event.
      const refused = await s.ack('approve', {
        run_id: runId,
        tool_use_id: required[0].tool_use_id,
        approve: true,
      });
      expect(refused).toMatchObject({ error: { type: 'conversation_busy' } });
      const invalid = await s.call('approve', { run_id: 'nope', tool_use_id: 'x', approve: true });
      expect(invalid.error.type).toBe('validation_error');
      s.socket.emit('approve', { run_id: runId, tool_use_id: required[1].tool_use_id, approve: false });

      const final = await s.next(
        'done',
        (d) => d.run_id === runId && d.stop_reason !== 'requires_approval',
        15_000,
      );
      expect(final.stop_reason).toBe('end_turn');
      expect(await tickets()).toBe(before);
      const stored = await messages(conversationId);
      expectEveryToolUsePaired(stored);
      const results = stored[2].content as Block[];
      expect(results.every((r) => r.is_error)).toBe(true);
      expect(JSON.stringify(results)).toContain('Address changes need a phone call.');
      expect(JSON.stringify(stored[3].content)).toContain('create_support_ticket: error');
    });

    it('pauses on one instance, is decided on another, and its events reach a follower on the first', async () => {
      fake.respondWith(modelCalling([LOOKUP, TICKET('Wrong colour')]));
      const conversationId = await newConversation();
      const follower = await socketOn(a);
      await follower.ack('join', { conversation_id: conversationId });
      const turn = await a.request('POST', '/v1/chat', {
        json: { message: 'It is the wrong colour', conversation_id: conversationId },
      });
      const runId = turn.body.run_id as string;
      const [pending] = turn.body.pending_approvals;
      await follower.next('approval_required', (e) => e.run_id === runId);

      const approved = await decide(runId, [{ tool_use_id: pending.tool_use_id, approve: true }], b);
      expect(approved.status).toBe(202);
      const end = await follower.next(
        'done',
        (d) => d.run_id === runId && d.stop_reason === 'end_turn',
        15_000,
      );
      expect(end.message_id).toEqual(expect.any(String));
      const ends = follower.received('tool_end').filter((e) => e.run_id === runId);
      // The lookup ran before the pause, the ticket after the decision: each once.
      expect(ends.map((e) => e.tool_name)).toEqual(['lookup_order', 'create_support_ticket']);
      const seqs = follower.events
        .filter((e) => e.payload?.run_id === runId)
        .map((e) => e.payload.seq as number);
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(seqs.length);
    });

    it('pauses a streamed turn (SSE) and resumes its events after the decision with Last-Event-ID', async () => {
      fake.respondWith(modelCalling([TICKET('Streamed')]));
      const conversationId = await newConversation();
      const headers = { authorization: `Bearer ${a.userKey}`, 'content-type': 'application/json' };
      const stream = await fetch(`${a.url}/v1/chat/stream`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ message: 'Ticket, streamed', conversation_id: conversationId }),
      });
      expect(stream.status).toBe(200);
      const paused = await readSse(stream, (f) => f.event === 'done');
      const required = paused.find((f) => f.event === 'approval_required')!;
      const done = paused.at(-1)!;
      expect(done.data).toMatchObject({ stop_reason: 'requires_approval', message_id: null });
      expect(required.data).toMatchObject({ tool_name: 'create_support_ticket', run_id: done.data.run_id });
      expect(required.id).toBe(required.data.seq);

      const controller = new AbortController();
      const follow = await fetch(`${a.url}/v1/conversations/${conversationId}/events`, {
        headers: { authorization: `Bearer ${a.userKey}`, 'Last-Event-ID': String(done.id) },
        signal: controller.signal,
      });
      const rest = readSse(follow, (f) => f.event === 'done');
      const decided = await decide(done.data.run_id, [
        {
          tool_use_id: required.data.tool_use_id,
          approve: true,
          arguments_sha256: required.data.arguments_sha256,
        },
      ]);
      expect(decided.status).toBe(202);
      const after = await rest;
      controller.abort();
      // The approved call, then the model's answer (text deltas), then the run's end: nothing replayed again.
      expect([...new Set(after.map((f) => f.event))]).toEqual(['tool_start', 'tool_end', 'text', 'done']);
      expect(after.filter((f) => f.event === 'tool_start').map((f) => f.data.tool_use_id)).toEqual([
        required.data.tool_use_id,
      ]);
      expect(after.every((f) => f.data.run_id === done.data.run_id && f.id! > done.id!)).toBe(true);
      expect(after.at(-1)!.data.stop_reason).toBe('end_turn');
    });

    it('counts an approval nobody decided in time as denied, without anyone calling the API', async () => {
      fake.respondWith(modelCalling([TICKET('Late decision')]));
      // B's approvals expire after a second; its sweeper (or A's) denies it and resumes the run.
      const conversationId = await newConversation(['create_support_ticket'], b);
      const turn = await b.request('POST', '/v1/chat', {
        json: { message: 'Please open a ticket', conversation_id: conversationId },
        key: a.userKey,
      });
      expect(turn.body.stop_reason).toBe('requires_approval');
      const runId = turn.body.run_id as string;
      const before = await tickets();
      const done = await waitForRun(runId, ['completed', 'failed'], b);
      expect(done.status).toBe('completed');
      expect(await tickets()).toBe(before);
      const decided = await a.request('GET', '/v1/approvals?status=decided');
      expect(decided.body.approvals).toContainEqual(
        expect.objectContaining({ run_id: runId, status: 'expired', decided_by: null }),
      );
      const stored = await messages(conversationId);
      expectEveryToolUsePaired(stored);
      expect(JSON.stringify(stored[2].content)).toContain('nobody approved it in time');
    });

    it('cancels a waiting run: it ends cancelled, its calls are denied, and the conversation is free again', async () => {
      fake.respondWith(modelCalling([TICKET('Never mind')]));
      const conversationId = await newConversation();
      const turn = await a.request('POST', '/v1/chat', {
        json: { message: 'Ticket?', conversation_id: conversationId },
      });
      const runId = turn.body.run_id as string;
      const cancelled = await a.request('POST', `/v1/runs/${runId}/cancel`);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({ status: 'cancelled', pending_approvals: [] });
      // Its turn is not stored, but the model call it made is recorded and billed, once.
      const billed = async () =>
        (
          await db.query(
            `SELECT count(*) AS n, sum(cost_usd) AS cost FROM llm_calls WHERE conversation_id = $1`,
            [conversationId],
          )
        )[0];
      expect(Number((await billed()).n)).toBe(1);
      expect(Number((await billed()).cost)).toBeGreaterThan(0);
      expect((await a.request('GET', `/v1/conversations/${conversationId}`)).body).toMatchObject({
        message_count: 0,
        cost_usd: expect.any(Number),
      });
      expect((await a.request('POST', `/v1/runs/${runId}/cancel`)).body.status).toBe('cancelled');
      expect(Number((await billed()).n)).toBe(1);
      fake.respondWith(() => ({ text: 'Hello again.' }));
      const next = await a.request('POST', '/v1/chat', {
        json: { message: 'Hi', conversation_id: conversationId },
      });
      expect(next.status).toBe(200);
      expect(next.body.stop_reason).toBe('end_turn');
      const decided = await a.request('GET', '/v1/approvals?status=decided');
      expect(decided.body.approvals).toContainEqual(
        expect.objectContaining({ run_id: runId, status: 'denied', reason: 'The run was cancelled.' }),
      );
      expectEveryToolUsePaired(await messages(conversationId));

      // A socket's `cancel` of the conversation reaches a waiting run too.
      fake.respondWith(modelCalling([TICKET('Socket cancel')]));
      const s = await socketOn(a);
      const ack = await s.ack('message', { message: 'Another ticket', conversation_id: conversationId });
      const waitingRun = (ack as { run_id: string }).run_id;
      await s.next('done', (d) => d.run_id === waitingRun && d.stop_reason === 'requires_approval');
      expect(await s.ack('cancel', { conversation_id: conversationId })).toEqual({
        conversation_id: conversationId,
      });
      await s.next('done', (d) => d.run_id === waitingRun && d.stop_reason === 'cancelled');
      expect(await runOf(waitingRun)).toMatchObject({ status: 'cancelled' });
    });

    it('queues a run sent with multitask_strategy "enqueue" behind a waiting run, and starts it once that run ends', async () => {
      fake.respondWith(modelCalling([TICKET('First in line')]));
      const conversationId = await newConversation();
      const turn = await a.request('POST', '/v1/chat', {
        json: { message: 'Ticket please', conversation_id: conversationId },
      });
      const runId = turn.body.run_id as string;
      const [pending] = turn.body.pending_approvals;
      const s = await socketOn(a);
      const queued = await s.ack('message', {
        message: 'And then this',
        conversation_id: conversationId,
        multitask_strategy: 'enqueue',
      });
      expect(queued).toMatchObject({ status: 'queued' });
      const queuedRun = (queued as { run_id: string }).run_id;
      // It stays queued while the run ahead waits (the reconciler finds the conversation taken).
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await runOf(queuedRun)).toMatchObject({ status: 'queued' });

      expect((await decide(runId, [{ tool_use_id: pending.tool_use_id, approve: false }])).status).toBe(202);
      await waitForRun(runId, ['completed']);
      // The queued run starts once the run ahead has ended (and, asking for a ticket too, waits in turn).
      const next = await waitForRun(queuedRun, ['requires_action']);
      const [call] = next.pending_approvals;
      expect((await decide(queuedRun, [{ tool_use_id: call.tool_use_id, approve: false }])).status).toBe(202);
      await waitForRun(queuedRun, ['completed']);
      const stored = await messages(conversationId);
      expect(
        stored.filter((m) => m.role === 'user' && typeof m.content === 'string').map((m) => m.content),
      ).toEqual(['Ticket please', 'And then this']);
      expectEveryToolUsePaired(stored);
    });
  });

  it('lets a run sent with multitask_strategy "interrupt" cancel a waiting run and go ahead', async () => {
    fake.respondWith(modelCalling([TICKET('Interrupted')]));
    const conversationId = await newConversation();
    const turn = await a.request('POST', '/v1/chat', {
      json: { message: 'Ticket please', conversation_id: conversationId },
    });
    const runId = turn.body.run_id as string;
    fake.respondWith(() => ({ text: 'Forget the ticket, then.' }));
    const next = await a.request('POST', '/v1/chat', {
      json: { message: 'Never mind', conversation_id: conversationId, multitask_strategy: 'interrupt' },
    });
    expect(next.status).toBe(200);
    expect(next.body).toMatchObject({ stop_reason: 'end_turn', response: 'Forget the ticket, then.' });
    expect(await runOf(runId)).toMatchObject({ status: 'cancelled', pending_approvals: [] });
    expect((await messages(conversationId)).map((m) => m.content)).toEqual([
      'Never mind',
      [{ type: 'text', text: 'Forget the ticket, then.' }],
    ]);
  });

  describe('tasks', () => {
    it('waits as requires_action without its worker slot, and fires no webhook until it ends', async () => {
      fake.respondWith(modelCalling([TICKET('Task ticket')]));
      const created = await a.request('POST', '/v1/tasks', {
        json: {
          agent_name: 'supervised',
          instruction: 'Open a ticket for the broken keyboard.',
          webhook_url: webhookUrl,
        },
      });
      expect(created.status).toBe(202);
      const taskId = created.body.task_id as string;
      const waiting = await waitForStatus((id) => a.request('GET', `/v1/tasks/${id}`), taskId, [
        'requires_action',
      ]);
      expect(waiting.finished_at).toBeNull();
      const run = await runOf(waiting.run_id);
      expect(run).toMatchObject({ status: 'requires_action', task_id: taskId, source: 'task' });

      // The only worker slot is free: another task runs to its end meanwhile.
      const other = await a.request('POST', '/v1/tasks', {
        json: { agent_name: 'support', instruction: 'Say hi.' },
      });
      fake.respondWith((request) =>
        JSON.stringify(request.body.system ?? '').includes('Test.')
          ? modelCalling([TICKET('Task ticket')])(request)
          : { text: 'Hi.' },
      );
      await waitForStatus((id) => a.request('GET', `/v1/tasks/${id}`), other.body.task_id, ['completed']);
      expect((await a.request('GET', `/v1/tasks/${taskId}`)).body.status).toBe('requires_action');
      expect((await a.request('GET', '/v1/tasks?status=requires_action')).body.tasks).toEqual([
        expect.objectContaining({ task_id: taskId, status: 'requires_action' }),
      ]);
      // No webhook while it waits: it has not ended.
      expect(webhooks.filter((w) => w.task.task_id === taskId)).toEqual([]);

      const before = await tickets();
      const [pending] = run.pending_approvals;
      expect((await decide(run.run_id, [{ tool_use_id: pending.tool_use_id, approve: true }])).status).toBe(
        202,
      );
      const finished = await waitForStatus((id) => a.request('GET', `/v1/tasks/${id}`), taskId, [
        'completed',
        'failed',
      ]);
      expect(finished.status).toBe('completed');
      expect(finished.result).toContain('create_support_ticket: ok');
      expect(await tickets()).toBe(before + 1);
      // One webhook, the completion, sent once the task ended.
      await waitUntil(
        async () => webhooks.filter((w) => w.task.task_id === taskId),
        (received) => received.length > 0,
        10_000,
        'the task webhook',
      );
      expect(webhooks.filter((w) => w.task.task_id === taskId)).toEqual([
        expect.objectContaining({
          event: 'task.completed',
          task: expect.objectContaining({ status: 'completed' }),
        }),
      ]);
    });
  });

  describe('restarts', () => {
    it('keeps pending approvals across a restart of the API and of the worker; the approvals then run each tool once', async () => {
      fake.respondWith(modelCalling([TICKET('Survives restarts')]));
      const apiEnv = { ...env({ RUN_WORKERS_IN_API: 'false' }), DEFAULT_TENANT: a.tenantId };
      let api = await startTestApp(apiEnv);
      // A chat turn paused on this instance, and a task paused in the worker.
      const conversationId = await newConversation(['create_support_ticket'], api);
      const turn = await api.request('POST', '/v1/chat', {
        json: { message: 'Open a ticket', conversation_id: conversationId },
        key: a.userKey,
      });
      const runId = turn.body.run_id as string;
      const [pending] = turn.body.pending_approvals;
      const created = await api.request('POST', '/v1/tasks', {
        json: { agent_name: 'supervised', instruction: 'Open a ticket.' },
        key: a.userKey,
      });
      const taskId = created.body.task_id as string;
      const waiting = await waitForStatus(
        (id) => api.request('GET', `/v1/tasks/${id}`, { key: a.userKey }),
        taskId,
        ['requires_action'],
      );
      const before = await tickets();

      // Every process that ran them stops; new ones start.
      await worker.kill();
      await api.app.close();
      worker = await startWorker(workerEnv());
      api = await startTestApp(apiEnv);
      try {
        expect(await runOf(runId, api)).toMatchObject({
          status: 'requires_action',
          pending_approvals: [pending],
        });
        const taskRun = await runOf(waiting.run_id, api);
        expect(taskRun).toMatchObject({ status: 'requires_action', task_id: taskId });
        for (const [id, call] of [
          [runId, pending],
          [taskRun.run_id, taskRun.pending_approvals[0]],
        ]) {
          expect((await decide(id, [{ tool_use_id: call.tool_use_id, approve: true }], api)).status).toBe(
            202,
          );
        }
        await waitForRun(runId, ['completed'], api);
        const finished = await waitForStatus(
          (id) => api.request('GET', `/v1/tasks/${id}`, { key: a.userKey }),
          taskId,
          ['completed', 'failed'],
          15_000,
        );
        expect(finished.status).toBe('completed');
        expect(await tickets()).toBe(before + 2);
        expectEveryToolUsePaired(await messages(conversationId));
        expectEveryToolUsePaired(await messages(finished.conversation_id));
      } finally {
        await api.app.close();
      }
    });
  });
});
