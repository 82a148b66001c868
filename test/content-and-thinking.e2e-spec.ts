// The model's full input and output: extended thinking (signed blocks stored and sent back unchanged, a cancelled
// block dropped, `thinking` events only for clients that ask), images and PDFs in a message (checked at the edge,
// stored, sent), and what happens to `temperature`.
import { FakeAnthropic, thinkingSignature } from './support/fake-anthropic';
import { startTestApp, TestApp } from './support/app';
import { waitUntil } from './support/tasks';
import { connectSocket, TestSocket } from './support/socket';

jest.setTimeout(60_000);
const WAIT_MS = 20_000;

/** The smallest headers the edge checks: a PNG and a one-page PDF, base64. */
const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.alloc(56, 1),
]).toString('base64');
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF\n').toString('base64');

/** The SSE frames of a finished stream, as `{name, data}`. */
function sseEvents(text: string): Array<{ name: string; data: any }> {
  return text
    .split('\n\n')
    .filter((frame) => frame.includes('event: '))
    .map((frame) => {
      const name = /^event: (.*)$/m.exec(frame)![1];
      const data = JSON.parse(/^data: (.*)$/m.exec(frame)![1]);
      return { name, data };
    });
}

describe('thinking, images and documents', () => {
  let fake: FakeAnthropic;
  let t: TestApp;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    t = await startTestApp({
      ANTHROPIC_API_KEY: 'sk-ant-test',
      ANTHROPIC_BASE_URL: fake.url,
      ANTHROPIC_MODEL: 'claude-sonnet-4-6',
      LLM_MAX_RETRIES: '0',
      MAX_IMAGE_BYTES: '4096',
      MAX_DOCUMENT_BYTES: '8192',
      QUEUE_PREFIX: `content-${Date.now()}`,
    });
    const created = await t.request('POST', '/v1/agents', {
      key: t.adminKey,
      json: {
        name: 'thinker',
        description: 'Test agent with extended thinking.',
        system_prompt: 'Think, then answer.',
        max_iterations: 3,
        max_tokens: 4096,
        tools: ['calculator'],
        thinking_budget_tokens: 2048,
      },
    });
    expect(created.status).toBe(201);
  }, 120_000);

  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
    fake.reset();
  });

  afterAll(async () => {
    await t.close();
    await fake.stop();
  });

  const socket = async (): Promise<TestSocket> => {
    const s = await connectSocket(t.url, t.userKey);
    sockets.push(s);
    return s;
  };
  const stored = async (id: string) => (await t.request('GET', `/v1/conversations/${id}`)).body;
  const conversationCount = async () => (await t.request('GET', '/v1/conversations')).body.total as number;

  describe('extended thinking', () => {
    it('sends the budget, stores the signed thinking blocks and sends them back unchanged within the tool loop and later turns', async () => {
      fake.enqueue(
        {
          thinking: 'The user wants a sum; use the calculator.',
          toolUses: [{ name: 'calculator', input: { expression: '2+2' } }],
        },
        { thinking: 'The tool said 4.', redactedThinking: true, text: 'It is 4.' },
      );
      const first = await t.request('POST', '/v1/chat', {
        json: { message: 'What is 2+2?', agent_name: 'thinker' },
      });
      expect(first.status).toBe(200);
      expect(first.body.response).toBe('It is 4.');

      const [call1, call2] = fake.requests.map((r) => r.body);
      expect(call1.thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
      // The provider counts thinking in max_tokens: budget_tokens < max_tokens.
      expect(call1.max_tokens).toBe(4096);
      expect(call1).not.toHaveProperty('temperature');
      const thinking = {
        type: 'thinking',
        thinking: 'The user wants a sum; use the calculator.',
        signature: thinkingSignature('The user wants a sum; use the calculator.'),
      };
      // The assistant message of the tool loop goes back verbatim, thinking block first.
      expect(call2.messages[1]).toEqual({
        role: 'assistant',
        content: [
          thinking,
          { type: 'tool_use', id: expect.any(String), name: 'calculator', input: { expression: '2+2' } },
        ],
      });

      const conversation = await stored(first.body.conversation_id);
      const assistant = conversation.messages.filter((m: { role: string }) => m.role === 'assistant');
      expect(assistant[0].content[0]).toEqual(thinking);
      expect(assistant[1].content.map((b: { type: string }) => b.type)).toEqual([
        'thinking',
        'redacted_thinking',
        'text',
      ]);
      expect(assistant[1].content[1].data).toEqual(expect.any(String));

      // A later turn sends the stored history, signatures and redacted data included; the fake checks every one.
      fake.enqueue({ thinking: 'Again.', text: 'Still 4.' });
      const second = await t.request('POST', '/v1/chat', {
        json: { message: 'Sure?', conversation_id: first.body.conversation_id },
      });
      expect(second.status).toBe(200);
      const replayed = fake.requests[2].body.messages as Array<{ content: unknown[] }>;
      expect(replayed[1].content[0]).toEqual(thinking);
      expect(uncached(replayed[3].content)).toEqual(assistant[1].content);
    });

    it('the fake refuses a tool loop whose assistant message lost its thinking block, as the provider does', async () => {
      const response = await fetch(`${fake.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-test' },
        body: JSON.stringify({
          model: 'claude-sonnet-4-6',
          max_tokens: 4096,
          thinking: { type: 'enabled', budget_tokens: 2048 },
          messages: [
            { role: 'user', content: 'Sum?' },
            {
              role: 'assistant',
              content: [{ type: 'tool_use', id: 'toolu_1', name: 'calculator', input: {} }],
            },
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '4' }] },
          ],
        }),
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(
        /Expected `thinking` or `redacted_thinking`/,
      );
    });

    it('a cancel mid-thinking drops the unsigned block: the conversation stays valid and the next turn works', async () => {
      const gate = fake.gate();
      fake.enqueue({ thinking: 'Let me think about this at length', chunkSize: 5, gate });
      const s = await socket();
      const ack = await s.call('message', {
        message: 'Think hard',
        agent_name: 'thinker',
        include_thinking: true,
      });
      await gate.reached;
      await s.next('thinking');
      expect(await s.call('cancel', { conversation_id: ack.conversation_id })).toEqual({
        conversation_id: ack.conversation_id,
      });
      const done = await s.next('done', undefined, WAIT_MS);
      expect(done.stop_reason).toBe('cancelled');
      gate.release();

      const afterCancel = await stored(ack.conversation_id);
      const blocks = afterCancel.messages.flatMap((m: { content: unknown }) =>
        Array.isArray(m.content) ? m.content : [],
      );
      expect(blocks.filter((b: { type: string }) => b.type === 'thinking')).toEqual([]);

      // The next turn runs a whole tool loop with thinking on: every request the fake checked was accepted.
      fake.enqueue(
        { thinking: 'Calculate.', toolUses: [{ name: 'calculator', input: { expression: '3*3' } }] },
        { thinking: 'Nine.', text: '9' },
      );
      const next = await t.request('POST', '/v1/chat', {
        json: { message: 'What is 3*3?', conversation_id: ack.conversation_id },
      });
      expect(next.status).toBe(200);
      expect(next.body.response).toBe('9');
    });

    it('sends thinking events only to the sockets that asked for them', async () => {
      fake.enqueue({ thinking: 'Reasoning here.', text: 'Answer.' });
      const asker = await socket();
      const other = await socket();
      const ack = await asker.call('message', {
        message: 'Go',
        agent_name: 'thinker',
        include_thinking: true,
      });
      await other.call('join', { conversation_id: ack.conversation_id });
      await asker.next('done', undefined, WAIT_MS);
      expect(
        asker
          .received('thinking')
          .map((p) => p.content)
          .join(''),
      ).toBe('Reasoning here.');
      expect(asker.received('thinking')[0]).toEqual({
        conversation_id: ack.conversation_id,
        run_id: ack.run_id,
        seq: expect.any(Number),
        content: expect.any(String),
      });

      // A socket that joined without asking gets the run's other events, but no thinking.
      fake.enqueue({ thinking: 'More reasoning.', text: 'Second.' });
      const second = await asker.call('message', { message: 'Again', conversation_id: ack.conversation_id });
      await other.next('done', (p) => p.run_id === second.run_id, WAIT_MS);
      expect(
        other
          .received('text')
          .filter((p) => p.run_id === second.run_id)
          .map((p) => p.content)
          .join(''),
      ).toBe('Second.');
      expect(other.received('thinking')).toEqual([]);
      await asker.next('done', (p) => p.run_id === second.run_id, WAIT_MS);
      expect(
        asker
          .received('thinking')
          .map((p) => p.content)
          .join(''),
      ).toBe('Reasoning here.More reasoning.');
    });

    it('streams thinking over SSE only with include_thinking: true', async () => {
      const stream = async (body: Record<string, unknown>) => {
        const response = await fetch(`${t.url}/v1/chat/stream`, {
          method: 'POST',
          headers: { authorization: `Bearer ${t.userKey}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        expect(response.status).toBe(200);
        return sseEvents(await response.text());
      };
      fake.enqueue({ thinking: 'Quietly.', text: 'Hi.' });
      const plain = await stream({ message: 'Hello', agent_name: 'thinker' });
      expect(plain.map((e) => e.name)).not.toContain('thinking');
      expect(plain.at(-1)!.name).toBe('done');

      fake.enqueue({ thinking: 'Out loud.', text: 'Hi.' });
      const opted = await stream({ message: 'Hello', agent_name: 'thinker', include_thinking: true });
      expect(
        opted
          .filter((e) => e.name === 'thinking')
          .map((e) => e.data.content)
          .join(''),
      ).toBe('Out loud.');

      // The conversation's event stream (resume) leaves thinking out unless asked too.
      const conversationId = opted[0].data.conversation_id;
      const replay = async (query: string) => {
        const controller = new AbortController();
        const response = await fetch(
          `${t.url}/v1/conversations/${conversationId}/events?after_seq=0${query}`,
          {
            headers: { authorization: `Bearer ${t.userKey}` },
            signal: controller.signal,
          },
        );
        const reader = response.body!.getReader();
        let text = '';
        while (!text.includes('event: done')) text += new TextDecoder().decode((await reader.read()).value);
        controller.abort();
        return sseEvents(text.slice(0, text.lastIndexOf('\n\n') + 2));
      };
      expect((await replay('')).map((e) => e.name)).not.toContain('thinking');
      expect((await replay('&include_thinking=true')).map((e) => e.name)).toContain('thinking');
    });
  });

  describe('images and documents', () => {
    const image = (source: Record<string, unknown>) => ({ type: 'image', source });
    const png = image({ type: 'base64', media_type: 'image/png', data: PNG });
    const pdf = {
      type: 'document',
      source: { type: 'base64', media_type: 'application/pdf', data: PDF },
      title: 'Invoice',
    };

    it.each([
      [
        'an unsupported media type',
        [{ type: 'text', text: 'Look' }, image({ type: 'base64', media_type: 'image/bmp', data: PNG })],
        'message[1]',
        /block 1 \(image\): media_type "image\/bmp" is not supported/,
      ],
      [
        'an unknown block type',
        [{ type: 'audio', data: 'x' }],
        'message[0]',
        /block 0 \(audio\): type must be one of text, image, document/,
      ],
      [
        'an oversized image',
        [
          image({
            type: 'base64',
            media_type: 'image/png',
            data: Buffer.concat([Buffer.from(PNG, 'base64'), Buffer.alloc(5000)]).toString('base64'),
          }),
        ],
        'message[0]',
        /block 0 \(image\): is \d+ bytes, over the limit of 4096 bytes/,
      ],
      [
        'an oversized PDF',
        [
          {
            type: 'document',
            source: {
              type: 'base64',
              media_type: 'application/pdf',
              data: Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(9000)]).toString('base64'),
            },
          },
        ],
        'message[0]',
        /block 0 \(document\): is \d+ bytes, over the limit of 8192 bytes/,
      ],
      [
        'data that is not what its media type says',
        [image({ type: 'base64', media_type: 'image/jpeg', data: PNG })],
        'message[0]',
        /not image\/jpeg data/,
      ],
      [
        'a document that is not a PDF',
        [{ type: 'document', source: { type: 'base64', media_type: 'text/plain', data: PDF } }],
        'message[0]',
        /block 0 \(document\): media_type "text\/plain" is not supported/,
      ],
      [
        'a URL that is not http(s)',
        [image({ type: 'url', url: 'file:///etc/passwd' })],
        'message[0]',
        /http or https URL/,
      ],
    ])(
      'refuses %s with a 400 naming the block, before anything is stored or sent',
      async (_case, message, field, why) => {
        const before = await conversationCount();
        const response = await t.request('POST', '/v1/chat', { json: { message } });
        expect(response.status).toBe(400);
        expect(response.body.error.type).toBe('validation_error');
        expect(response.body.error.details).toEqual([{ field, message: expect.stringMatching(why) }]);
        expect(await conversationCount()).toBe(before);
        expect(fake.requests).toHaveLength(0);
      },
    );

    it('refuses a bad block on the socket and in a task instruction the same way', async () => {
      const s = await socket();
      const refused = await s.call('message', {
        message: [image({ type: 'base64', media_type: 'image/bmp', data: PNG })],
      });
      expect(refused.error).toMatchObject({ type: 'validation_error', details: [{ field: 'message[0]' }] });
      const task = await t.request('POST', '/v1/tasks', {
        json: { agent_name: 'support', instruction: [{ type: 'video', source: {} }] },
      });
      expect(task.status).toBe(400);
      expect(task.body.error.details).toEqual([
        { field: 'instruction[0]', message: expect.stringContaining('(video)') },
      ]);
      expect(fake.requests).toHaveLength(0);
    });

    it('takes content blocks in a socket message too', async () => {
      fake.enqueue({ text: 'A small picture.' });
      const s = await socket();
      const message = [{ type: 'text', text: 'And this one?' }, png];
      const ack = await s.call('message', { message });
      expect(ack).toEqual({ conversation_id: expect.any(String), run_id: expect.any(String) });
      await s.next('done', undefined, WAIT_MS);
      expect(uncached(fake.requests[0].body.messages[0].content)).toEqual(message);
      expect((await stored(ack.conversation_id)).messages[0].content).toEqual(message);
    });

    it('stores an image and a PDF with the conversation and sends them to the model as given', async () => {
      fake.enqueue({ text: 'A receipt and an invoice.' });
      const message = [
        { type: 'text', text: 'What are these?' },
        png,
        pdf,
        image({ type: 'url', url: 'https://images.example.com/receipt.webp' }),
      ];
      const response = await t.request('POST', '/v1/chat', { json: { message } });
      expect(response.status).toBe(200);
      expect(uncached(fake.requests[0].body.messages)).toEqual([{ role: 'user', content: message }]);
      const conversation = await stored(response.body.conversation_id);
      expect(conversation.messages[0]).toMatchObject({ role: 'user', content: message });
      expect(conversation.title).toBe('What are these?');

      // Sent again, unchanged, with the next turn.
      fake.enqueue({ text: 'Yes.' });
      await t.request('POST', '/v1/chat', {
        json: { message: 'Sure?', conversation_id: response.body.conversation_id },
      });
      expect(uncached(fake.requests[1].body.messages[0].content)).toEqual(message);
    });

    it('takes a message of blocks from a queued run and a task instruction too', async () => {
      fake.respondWith(() => ({ text: 'Seen.' }));
      const task = await t.request('POST', '/v1/tasks', {
        json: { agent_name: 'support', instruction: [{ type: 'text', text: 'Describe the image' }, png] },
      });
      expect(task.status).toBe(202);
      await waitUntil(
        () => t.request('GET', `/v1/tasks/${task.body.task_id}`),
        (r) => r.body.status === 'completed' || r.body.status === 'failed',
        WAIT_MS,
        'the task to end',
      );
      const sent = fake.requests.find((r) => JSON.stringify(r.body.messages).includes('Describe the image'));
      expect(uncached(sent?.body.messages[0].content)).toEqual([
        { type: 'text', text: 'Describe the image' },
        png,
      ]);
    });
  });

  describe('temperature', () => {
    it('is stored with the conversation but never sent (the provider API version refuses it), and GET /v1/agents says so', async () => {
      const created = await t.request('POST', '/v1/conversations', {
        json: { agent_name: 'support', temperature: 0.9 },
      });
      expect(created.status).toBe(201);
      fake.enqueue({ text: 'Hello.' });
      const turn = await t.request('POST', '/v1/chat', {
        json: { message: 'Hi', conversation_id: created.body.id },
      });
      expect(turn.status).toBe(200);
      expect(fake.requests[0].body).not.toHaveProperty('temperature');
      const agents = (await t.request('GET', '/v1/agents')).body as Array<Record<string, unknown>>;
      expect(agents.find((a) => a.name === 'support')).toMatchObject({ temperature: null });
      expect((await t.request('GET', '/v1/agents/thinker')).body).toMatchObject({
        temperature: null,
        thinking_budget_tokens: 2048,
      });
    });
  });
});

/** What was sent, without the automatic prompt-cache breakpoints (they mark a block, they do not change it). */
function uncached<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), (key, v: unknown) =>
    key === 'cache_control' ? undefined : v,
  ) as T;
}
