// The published streaming protocol: /docs/asyncapi.json is a valid AsyncAPI 3 document naming every event of the
// typed map (libs/core/src/events/server-events.ts), its schemas accept payloads of the map's types and refuse
// malformed ones, and /docs/asyncapi renders it for people as a self-contained page.
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import type { AsyncAPIDocumentInterface } from '@asyncapi/parser';
import Ajv, { ValidateFunction } from 'ajv';
import {
  CLIENT_EVENT_NAMES,
  ClientAckMap,
  ClientEventMap,
  ClientEventName,
  RUN_EVENT_NAMES,
  SERVER_EVENT_NAMES,
  ServerEventMap,
  ServerEventName,
} from '@lib/core';
import { FakeAnthropic } from './support/fake-anthropic';
import { startTestApp, TestApp } from './support/app';
import { ClientAck, connectSocket } from './support/socket';

const conversation_id = '6ec0bd7f-11c0-43da-975e-2a8ad9ebae0b';
const run_id = 'b3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const task_id = '3d6f0a52-9c1e-4b8a-a7f3-2e5d8c1b9a04';
const run = { conversation_id, run_id };

/** Payloads of every server event, typed by the map: with and without their optional fields. */
const serverSamples: { [Name in ServerEventName]: ServerEventMap[Name][] } = {
  run_started: [
    { ...run, seq: 1, source: 'rest' },
    { ...run, seq: 9, source: 'task' },
  ],
  text: [
    { ...run, seq: 2, content: 'Hello' },
    { ...run, seq: 3, content: '' },
  ],
  thinking: [{ ...run, seq: 2, content: 'Look the order up first.' }],
  tool_start: [{ ...run, seq: 4, tool_name: 'search_knowledge_base', tool_use_id: 'toolu_1', arguments: {} }],
  tool_end: [
    {
      ...run,
      seq: 5,
      tool_name: 'search_knowledge_base',
      tool_use_id: 'toolu_1',
      duration_ms: 0,
      is_error: true,
      result_summary: 'Tool timed out',
    },
  ],
  approval_required: [
    {
      ...run,
      seq: 6,
      tool_use_id: 'toolu_2',
      tool_name: 'issue_refund',
      arguments: { amount_usd: 10 },
      arguments_sha256: 'a'.repeat(64),
      expires_at: '2026-11-25T08:30:00.000Z',
    },
  ],
  done: [
    {
      ...run,
      seq: 7,
      message_id: null,
      stop_reason: 'cancelled',
      input_tokens: 0,
      output_tokens: 0,
      tokens_used: 0,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
      cost_usd: 0,
      latency_ms: 3,
      context_tokens: 0,
      compacted: false,
    },
    {
      ...run,
      seq: 8,
      message_id: '9b2f5a6e-0c1d-4e3f-8a7b-6c5d4e3f2a1b',
      stop_reason: 'requires_approval',
      input_tokens: 10,
      output_tokens: 2,
      tokens_used: 12,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 4,
      cost_usd: 0.0001,
      latency_ms: 40,
      context_tokens: 14,
      compacted: true,
    },
  ],
  error: [
    // A refused client event: no run.
    { type: 'validation_error', message: 'The event payload is invalid.', details: [{ field: 'message' }] },
    { type: 'rate_limited', message: 'Too many requests.', retry_after: 12 },
    // A run's failure.
    { ...run, seq: 10, type: 'upstream_error', message: 'The model provider did not answer.' },
  ],
  task_progress: [{ task_id, status: 'running', progress: 0.25 }],
  task_done: [
    { task_id, status: 'failed', error: 'upstream_error', result: null },
    { task_id, status: 'completed', agent_name: 'support', attempts: 1, metadata: { ticket: 7 } },
  ],
};

const clientSamples: { [Name in ClientEventName]: ClientEventMap[Name][] } = {
  message: [
    { message: 'hi' },
    {
      message: 'Where is order 1001?',
      conversation_id,
      agent_name: 'support',
      on_disconnect: 'cancel',
      multitask_strategy: 'interrupt',
      include_thinking: true,
    },
    {
      message: [
        { type: 'text', text: 'What is on this receipt?' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
        {
          type: 'document',
          source: { type: 'url', url: 'https://example.com/invoice.pdf' },
          title: 'Invoice',
        },
      ],
    },
  ],
  join: [{ conversation_id }, { conversation_id, after_seq: 0, include_thinking: false }],
  leave: [{ conversation_id }],
  cancel: [{ conversation_id }],
  subscribe_task: [{ task_id }],
  approve: [{ run_id, tool_use_id: 'toolu_2', approve: true }],
};

const refusal = { error: { type: 'not_found', message: 'No such conversation.' } };
const ackSamples: { [Name in ClientEventName]: ClientAck<Name>[] } = {
  message: [{ conversation_id, run_id }, { conversation_id, run_id, status: 'queued' }, refusal],
  join: [
    { conversation_id, last_seq: 0, replayed: 0, truncated: false },
    { conversation_id, last_seq: 120, running_run_id: run_id, replayed: 80, truncated: true },
    refusal,
  ],
  leave: [{ conversation_id }, refusal],
  cancel: [{ conversation_id }, refusal],
  subscribe_task: [{ task_id }, refusal],
  approve: [{ run_id, tool_use_id: 'toolu_2' } satisfies ClientAckMap['approve'], refusal],
};

/** Payloads the map's types do not allow (each breaks one rule), by the message that must refuse them. */
const malformed: [message: string, payload: unknown, why: string][] = [
  ['text', { ...run, content: 'x' }, 'no seq'],
  ['text', { conversation_id, seq: 1, content: 'x' }, 'no run_id'],
  ['text', { ...run, seq: '1', content: 'x' }, 'a seq that is a string'],
  ['text', { ...run, seq: 0, content: 'x' }, 'a seq below 1'],
  ['run_started', { ...run, seq: 1, source: 'carrier pigeon' }, 'an unknown source'],
  [
    'tool_end',
    { ...run, seq: 1, tool_name: 't', tool_use_id: 'u', duration_ms: 1, result_summary: '' },
    'no is_error',
  ],
  [
    'done',
    {
      ...run,
      seq: 1,
      message_id: null,
      stop_reason: 'finished',
      input_tokens: 0,
      output_tokens: 0,
      tokens_used: 0,
      cost_usd: 0,
      latency_ms: 0,
    },
    'an unknown stop_reason',
  ],
  ['approval_required', { ...run, seq: 1, tool_use_id: 'u', tool_name: 't', arguments: {} }, 'no sha256'],
  ['error', { message: 'x' }, 'no type'],
  ['error', { type: 'teapot', message: 'x' }, 'an unknown error type'],
  ['task_progress', { task_id, status: 'running', progress: 2 }, 'a progress above 1'],
  ['task_done', { status: 'completed' }, 'no task_id'],
  ['message', {}, 'no message'],
  ['message', { message: '' }, 'an empty message'],
  ['message', { message: 'hi', model: 'claude' }, 'an unknown field'],
  ['message', { message: 'hi', multitask_strategy: 'queue' }, 'an unknown multitask_strategy'],
  ['message', { message: 'hi', on_disconnect: 'pause' }, 'an unknown on_disconnect'],
  ['join', { conversation_id, after_seq: -1 }, 'a negative after_seq'],
  ['join', { conversation_id, after_seq: 1.5 }, 'a fractional after_seq'],
  ['join', { conversation_id: 'abc' }, 'a conversation_id that is not a UUID'],
  ['subscribe_task', { task_id: 42 }, 'a task_id that is a number'],
  ['approve', { run_id, tool_use_id: 'u' }, 'no decision'],
  ['message acknowledgement', { conversation_id, run_id, status: 'running' }, 'a status other than queued'],
  ['join acknowledgement', { conversation_id, replayed: 0, truncated: false }, 'no last_seq'],
  ['cancel acknowledgement', { error: { message: 'x' } }, 'a refusal without a type'],
];

describe('the AsyncAPI document of the streaming protocol (/docs/asyncapi.json)', () => {
  let fake: FakeAnthropic;
  let t: TestApp;
  let served: any;
  let parsed: AsyncAPIDocumentInterface;
  const validators = new Map<string, ValidateFunction>();

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    t = await startTestApp({
      ANTHROPIC_API_KEY: 'sk-ant-test',
      ANTHROPIC_BASE_URL: fake.url,
      ANTHROPIC_MODEL: 'claude-sonnet-4-6',
      LLM_MAX_RETRIES: '0',
    });
    const res = await t.request('GET', '/docs/asyncapi.json', { key: null });
    expect(res.status).toBe(200);
    served = res.body;
    const { document, diagnostics } = await new Parser().parse(JSON.stringify(served));
    const problems = diagnostics.filter((d) => d.severity <= DiagnosticSeverity.Warning);
    expect(problems.map((d) => `${d.code} at ${d.path.join('.')}: ${d.message}`)).toEqual([]);
    parsed = document!;
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
    ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    ajv.addFormat('uri', (value: string) => URL.canParse(value));
    // The schemas as the parser resolved them from the served document.
    for (const message of parsed.components().messages().all()) {
      validators.set(message.name()!, ajv.compile(message.payload()!.json()));
    }
  }, 60_000);

  afterAll(async () => {
    await t.close();
    await fake.stop();
  });

  const validate = (name: string, payload: unknown) => {
    const check = validators.get(name);
    if (!check) throw new Error(`The document has no message named ${name}`);
    return check(payload) ? [] : check.errors!.map((e) => `${e.instancePath || '/'} ${e.message}`);
  };
  const socketOperations = () =>
    parsed
      .operations()
      .all()
      .filter((operation) =>
        operation
          .channels()
          .all()
          .some((channel) => channel.address() === '/chat'),
      );

  it('is served without an API key and parses as AsyncAPI 3.0 without an error or a warning', () => {
    expect(served.asyncapi).toBe('3.0.0');
    expect(parsed.version()).toBe('3.0.0');
  });

  it('has every server event of the map as a message the server sends on the /chat namespace', () => {
    const sent = socketOperations()
      .filter((operation) => operation.action() === 'send')
      .flatMap((operation) =>
        operation
          .messages()
          .all()
          .map((message) => message.name()),
      );
    expect([...sent].sort()).toEqual([...SERVER_EVENT_NAMES].sort());
  });

  it('has every client event of the map as a message the server receives on /chat, answered by its acknowledgement', () => {
    const received = socketOperations().filter((operation) => operation.action() === 'receive');
    expect(
      received
        .flatMap((op) =>
          op
            .messages()
            .all()
            .map((m) => m.name()),
        )
        .sort(),
    ).toEqual([...CLIENT_EVENT_NAMES].sort());
    for (const operation of received) {
      const event = operation.messages().all()[0].name();
      expect(
        operation
          .reply()
          ?.messages()
          .all()
          .map((m) => m.name()),
      ).toEqual([`${event} acknowledgement`]);
    }
  });

  it('says how to authenticate the handshake, and names the host the caller reached', () => {
    const socket = parsed.servers().get('socket')!;
    expect(socket.protocol()).toBe('ws');
    expect(socket.host()).toBe(new URL(t.url).host);
    expect(socket.security()[0].all()[0].scheme().description()).toContain('auth: {token');
    expect(parsed.servers().get('sse')!.protocol()).toBe('http');
  });

  it('names the wss and https URLs a TLS-terminating proxy forwards for', async () => {
    const res = await t.request('GET', '/docs/asyncapi.json', {
      key: null,
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'agents.example.com' },
    });
    expect(res.body.servers.socket).toMatchObject({ protocol: 'wss', host: 'agents.example.com' });
    expect(res.body.servers.sse).toMatchObject({ protocol: 'https', host: 'agents.example.com' });
  });

  it('describes both SSE endpoints with every run event and the frame format', () => {
    for (const address of ['/v1/chat/stream', '/v1/conversations/{conversation_id}/events']) {
      const channel = parsed
        .channels()
        .all()
        .find((c) => c.address() === address);
      expect(channel).toBeDefined();
      expect(
        channel!
          .servers()
          .all()
          .map((s) => s.id()),
      ).toEqual(['sse']);
      expect(
        channel!
          .messages()
          .all()
          .map((m) => m.name())
          .sort(),
      ).toEqual([...RUN_EVENT_NAMES].sort());
      expect(channel!.description()).toContain('`id: <seq>`, `event: <name>`, `data: <payload as JSON>`');
      expect(channel!.description()).toContain('Last-Event-ID');
    }
  });

  it.each(SERVER_EVENT_NAMES)("accepts payloads of the map's type for the server event %s", (name) => {
    for (const payload of serverSamples[name])
      expect([payload, validate(name, payload)]).toEqual([payload, []]);
  });

  it.each(CLIENT_EVENT_NAMES)("accepts payloads and acknowledgements of the map's types for %s", (name) => {
    for (const payload of clientSamples[name])
      expect([payload, validate(name, payload)]).toEqual([payload, []]);
    for (const answer of ackSamples[name]) {
      expect([answer, validate(`${name} acknowledgement`, answer)]).toEqual([answer, []]);
    }
  });

  it('accepts its own examples', () => {
    for (const message of parsed.components().messages().all()) {
      for (const example of message.examples().all()) {
        expect([message.name(), validate(message.name()!, example.payload())]).toEqual([message.name(), []]);
      }
    }
  });

  it.each(malformed)('refuses a %s payload with %s', (name, payload) => {
    expect(validate(name, payload)).not.toEqual([]);
  });

  // The live events match the document: every run event carries `run_id` and `seq`, and a run opens with
  // `run_started`.
  describe('what the API sends', () => {
    const scriptTurn = () =>
      fake.enqueue(
        { toolUses: [{ id: 'toolu_order', name: 'lookup_order', input: { order_number: '1001' } }] },
        { text: 'Order 1001 has shipped.' },
      );
    /** A run's events: from run_started to done, the tool's events and some text between, seq increasing. */
    const expectOneRun = (events: { name: string; payload: { seq?: number } }[]) => {
      const names = events.map((e) => e.name);
      expect(names[0]).toBe('run_started');
      expect(names.at(-1)).toBe('done');
      expect(names).toEqual(expect.arrayContaining(['tool_start', 'tool_end', 'text']));
      const seqs = events.map((e) => e.payload.seq ?? NaN);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(seqs.length);
      for (const { name, payload } of events) expect([name, validate(name, payload)]).toEqual([name, []]);
    };

    it('sends socket events and acknowledgements that match the document', async () => {
      scriptTurn();
      const s = await connectSocket(t.url, t.userKey);
      try {
        const ack = await s.ack('message', { message: 'Where is order 1001?' });
        expect(validate('message acknowledgement', ack)).toEqual([]);
        await s.next('done');
        expectOneRun(s.events);
        const { conversation_id: id } = ack as ClientAckMap['message'];
        const run = s.events.length;
        // A resume from the start: the acknowledgement, then the run's events again.
        const joined = await s.ack('join', { conversation_id: id, after_seq: 0 });
        expect(joined).toMatchObject({ conversation_id: id, replayed: run, truncated: false });
        expect(validate('join acknowledgement', joined)).toEqual([]);
        const refused = await s.ack('join', { conversation_id: 'not-a-uuid' });
        expect(validate('join acknowledgement', refused)).toEqual([]);
      } finally {
        s.close();
      }
    });

    it('sends SSE frames of id: <seq>, event: <name> and data that match the document', async () => {
      scriptTurn();
      const res = await fetch(`${t.url}/v1/chat/stream`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.userKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'Where is order 1001?' }),
      });
      const frames = (await res.text())
        .split('\n\n')
        .filter((frame) => frame.trim() && !frame.startsWith(':'))
        .map((frame) => Object.fromEntries(frame.split('\n').map((line) => line.split(/: (.*)/s, 2))));
      const events = frames.map((frame) => ({ name: frame.event, payload: JSON.parse(frame.data) }));
      expectOneRun(events);
      expect(frames.map((frame) => frame.id)).toEqual(events.map((e) => String(e.payload.seq)));
    });
  });
});

describe('the AsyncAPI page (/docs/asyncapi)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('renders HTML without an API key, naming every client and server event', async () => {
    const res = await fetch(`${t.url}/docs/asyncapi`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    for (const name of [...CLIENT_EVENT_NAMES, ...SERVER_EVENT_NAMES]) {
      expect([name, html.includes(`<code>${name}</code>`)]).toEqual([name, true]);
    }
    for (const text of [
      '/chat',
      '/v1/chat/stream',
      '/v1/conversations/{conversation_id}/events',
      'after_seq',
    ]) {
      expect(html).toContain(text);
    }
  });

  it('is self-contained under the content security policy: no script, nothing loaded from elsewhere', async () => {
    const res = await fetch(`${t.url}/docs/asyncapi`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
  });
});
