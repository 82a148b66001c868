// The agents API end to end: stored, versioned agents; validation; tenant scope; versions pinned per conversation
// and per task; the seeded built-in agents; the cache kept coherent across two instances.
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ApiKeyService } from '@lib/auth';
import { FakeAnthropic, RecordedRequest } from './support/fake-anthropic';
import { request, startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';
import { removeQueueKeys, testQueuePrefix, waitForStatus } from './support/tasks';

jest.setTimeout(30_000);

/** The system prompt a model call carried, whether sent as a string or as text blocks. */
function systemOf(req: RecordedRequest): string {
  const system = req.body.system;
  if (typeof system === 'string') return system;
  if (Array.isArray(system)) return system.map((b: { text?: string }) => b.text ?? '').join('');
  return '';
}

describe('agents as data', () => {
  const prefix = testQueuePrefix('agents');
  let fake: FakeAnthropic;
  let a: TestApp;
  let b: TestApp;
  let db: DataSource;
  /** Keys of a second tenant, made on instance a. */
  let other: { tenant: string; userKey: string; adminKey: string };
  const globalNames: string[] = [];

  const env = (workers: boolean) => ({
    ANTHROPIC_API_KEY: 'sk-ant-test',
    ANTHROPIC_BASE_URL: fake.url,
    ANTHROPIC_MODEL: 'claude-sonnet-4-6',
    LLM_MAX_RETRIES: '0',
    QUEUE_PREFIX: prefix,
    RUN_WORKERS_IN_API: workers ? 'true' : 'false',
  });

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    a = await startTestApp(env(false));
    // A second instance on the same PostgreSQL and Redis.
    b = await startTestApp(env(false));
    db = await openTestDataSource();
    const keys = a.app.get(ApiKeyService);
    const tenant = `test-${randomUUID()}`;
    other = {
      tenant,
      userKey: (await keys.create({ tenant, role: 'user', name: 'other user' })).key,
      adminKey: (await keys.create({ tenant, role: 'admin', name: 'other admin' })).key,
    };
  });

  afterEach(() => fake.reset());

  afterAll(async () => {
    await b?.close();
    await a?.close();
    if (db) {
      await db.query(`DELETE FROM conversations WHERE tenant_id = $1`, [other?.tenant]);
      await db.query(`DELETE FROM agents WHERE tenant_id = $1`, [other?.tenant]);
      await db.query(`DELETE FROM api_keys WHERE tenant_id = $1`, [other?.tenant]);
      await db.query(`DELETE FROM agents WHERE tenant_id IS NULL AND name = ANY($1)`, [globalNames]);
      await db.destroy();
    }
    await fake?.stop();
    await removeQueueKeys(prefix);
  });

  const uniqueName = (base: string) => `${base}-${randomUUID().slice(0, 8)}`;
  const body = (name: string, overrides: Record<string, unknown> = {}) => ({
    name,
    description: 'Answers billing questions.',
    system_prompt: 'You are the billing assistant, version one.',
    tools: ['lookup_order', { name: 'create_support_ticket', requires_approval: true }],
    ...overrides,
  });
  const create = (json: unknown, key = a.adminKey, app = a) =>
    app.request('POST', '/v1/agents', { key, json });
  const put = (name: string, json: unknown, key = a.adminKey, app = a) =>
    app.request('PUT', `/v1/agents/${name}`, { key, json });
  const chat = (json: unknown, app = a, key = a.userKey) => app.request('POST', '/v1/chat', { key, json });

  describe('create, read, version, delete', () => {
    it('creates version 1 and shows it with its tools resolved, their input schemas and origin', async () => {
      const name = uniqueName('billing');
      const res = await create(
        body(name, { temperature: 0.2, max_tokens: 4096, thinking_budget_tokens: 2048 }),
      );
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        name,
        tenant: a.tenantId,
        version: 1,
        description: 'Answers billing questions.',
        system_prompt: 'You are the billing assistant, version one.',
        model: 'claude-sonnet-4-6',
        // Stored, but never sent (the provider API version refuses sampling parameters): said as it is.
        temperature: null,
        max_iterations: 6,
        max_tokens: 4096,
        thinking_budget_tokens: 2048,
      });
      expect(res.body.tools).toEqual([
        {
          name: 'lookup_order',
          requires_approval: false,
          origin: 'builtin',
          description: expect.any(String),
          input_schema: expect.objectContaining({ type: 'object' }),
        },
        expect.objectContaining({
          name: 'create_support_ticket',
          requires_approval: true,
          origin: 'builtin',
        }),
      ]);
      const read = await a.request('GET', `/v1/agents/${name}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(res.body);
      const [row] = await db.query(
        `SELECT v.definition FROM agents a JOIN agent_versions v ON v.agent_id = a.id WHERE a.name = $1`,
        [name],
      );
      expect(row.definition.tools).toEqual([
        { name: 'lookup_order', requires_approval: false },
        { name: 'create_support_ticket', requires_approval: true },
      ]);
      expect(row.definition.thinking_budget_tokens).toBe(2048);
    });

    it('saves each PUT as the next version and lists the agent with its current version', async () => {
      const name = uniqueName('quotes');
      expect((await create(body(name))).status).toBe(201);
      const second = await put(name, body(name, { system_prompt: 'Version two.', tools: ['calculator'] }));
      expect(second.status).toBe(200);
      expect(second.body).toMatchObject({ name, version: 2, system_prompt: 'Version two.' });
      expect(second.body.tools.map((t: { name: string }) => t.name)).toEqual(['calculator']);
      const withoutName = { ...body(name, { system_prompt: 'Version three.' }) } as Record<string, unknown>;
      delete withoutName.name;
      expect((await put(name, withoutName)).body.version).toBe(3);
      const listed = await a.request('GET', '/v1/agents');
      expect(listed.body.find((x: { name: string }) => x.name === name)).toMatchObject({
        version: 3,
        tenant: a.tenantId,
        tools: ['lookup_order', 'create_support_ticket'],
      });
      const versions = await db.query(
        `SELECT v.version, v.definition->>'system_prompt' AS prompt FROM agent_versions v
           JOIN agents a ON a.id = v.agent_id WHERE a.name = $1 ORDER BY v.version`,
        [name],
      );
      expect(versions).toEqual([
        { version: 1, prompt: 'You are the billing assistant, version one.' },
        { version: 2, prompt: 'Version two.' },
        { version: 3, prompt: 'Version three.' },
      ]);
    });

    it('deletes an agent: 204, then 404; its conversations stay readable but take no new turn', async () => {
      const name = uniqueName('gone');
      await create(body(name));
      fake.enqueue({ text: 'Hello from the agent.' });
      const turn = await chat({ message: 'Hi', agent_name: name });
      expect(turn.status).toBe(200);
      const removed = await a.request('DELETE', `/v1/agents/${name}`, { key: a.adminKey });
      expect(removed.status).toBe(204);
      expect((await a.request('GET', `/v1/agents/${name}`)).status).toBe(404);
      expect((await a.request('DELETE', `/v1/agents/${name}`, { key: a.adminKey })).status).toBe(404);
      // A name no agent can have (a NUL byte) is nobody's: 404, never a query PostgreSQL would refuse.
      for (const method of ['GET', 'DELETE'] as const) {
        const odd = await a.request(method, '/v1/agents/%00?tenant=1e20', { key: a.adminKey });
        expect([method, odd.status]).toEqual([method, 404]);
      }
      const listed = await a.request('GET', '/v1/agents');
      expect(listed.body.map((x: { name: string }) => x.name)).not.toContain(name);
      const stored = await a.request('GET', `/v1/conversations/${turn.body.conversation_id}`);
      expect(stored.status).toBe(200);
      expect(stored.body).toMatchObject({ agent_name: name, agent_version: 1, message_count: 2 });
      const again = await chat({ message: 'Still there?', conversation_id: turn.body.conversation_id });
      expect([again.status, again.body.error.type]).toEqual([404, 'not_found']);
      expect(fake.requests).toHaveLength(1);
      // The name is free again, for a new agent that starts at version 1.
      expect((await create(body(name))).body.version).toBe(1);
    });
  });

  describe('validation at the edge', () => {
    it.each([
      ['a name with capitals', { name: 'Billing' }, 'name'],
      ['a name starting with a digit', { name: '1billing' }, 'name'],
      ['a name over 64 characters', { name: `a${'b'.repeat(64)}` }, 'name'],
      ['an empty prompt', { system_prompt: '' }, 'system_prompt'],
      ['a prompt over the limit', { system_prompt: 'x'.repeat(100_001) }, 'system_prompt'],
      ['tools that are not a list', { tools: 'calculator' }, 'tools'],
      ['a tool object with an unknown key', { tools: [{ name: 'calculator', approve: true }] }, 'tools'],
      ['a temperature above 1', { temperature: 1.5 }, 'temperature'],
      ['max_iterations of 0', { max_iterations: 0 }, 'max_iterations'],
      ['a thinking budget below 1024', { thinking_budget_tokens: 10 }, 'thinking_budget_tokens'],
      [
        'a thinking budget not below max_tokens',
        { thinking_budget_tokens: 4096, max_tokens: 4096 },
        'thinking_budget_tokens',
      ],
      ['an unknown field', { colour: 'red' }, 'colour'],
      ['a tool named twice', { tools: ['calculator', 'calculator'] }, 'tools[1]'],
    ])('refuses %s with 400 and a detail on the field', async (_case, overrides, field) => {
      const res = await create(body(uniqueName('bad'), overrides));
      expect(res.status).toBe(400);
      expect(res.body.error.type).toBe('validation_error');
      expect(res.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    });

    it('keeps a context budget below the window (max_context_tokens), and refuses one out of range', async () => {
      const name = uniqueName('budget');
      const created = await a.request('POST', '/v1/agents', {
        key: a.adminKey,
        json: body(name, { max_context_tokens: 50_000 }),
      });
      expect([created.status, created.body.max_context_tokens]).toEqual([201, 50_000]);
      expect((await a.request('GET', `/v1/agents/${name}`)).body.max_context_tokens).toBe(50_000);
      const cleared = await a.request('PUT', `/v1/agents/${name}`, {
        key: a.adminKey,
        json: body(name, { max_context_tokens: null }),
      });
      expect([cleared.status, cleared.body.max_context_tokens]).toEqual([200, null]);
      const refused = await a.request('POST', '/v1/agents', {
        key: a.adminKey,
        json: body(uniqueName('budget'), { max_context_tokens: 10 }),
      });
      expect(refused.status).toBe(400);
      expect(refused.body.error.details).toEqual([expect.objectContaining({ field: 'max_context_tokens' })]);
    });

    it('refuses a tool that does not exist, naming it, and stores nothing', async () => {
      const name = uniqueName('ghost');
      const res = await create(body(name, { tools: ['calculator', 'launch_rockets'] }));
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([
        { field: 'tools[1]', message: expect.stringContaining('"launch_rockets"') },
      ]);
      expect(await db.query(`SELECT 1 FROM agents WHERE name = $1`, [name])).toEqual([]);
      expect((await put('support', body('support', { tools: ['launch_rockets'] }))).status).toBe(400);
    });

    it('answers 409 conflict for a name the owner already uses', async () => {
      const name = uniqueName('twice');
      expect((await create(body(name))).status).toBe(201);
      const again = await create(body(name));
      expect(again.status).toBe(409);
      expect(again.body.error.type).toBe('conflict');
    });

    it('answers 403 to a user key on every write, and 404 for a PUT of an unknown agent', async () => {
      const name = uniqueName('mine');
      const asUser = await create(body(name), a.userKey);
      expect([asUser.status, asUser.body.error.type]).toEqual([403, 'forbidden']);
      await create(body(name));
      expect((await put(name, body(name), a.userKey)).status).toBe(403);
      expect((await a.request('DELETE', `/v1/agents/${name}`, { key: a.userKey })).status).toBe(403);
      const nobody = uniqueName('nobody');
      expect((await put(nobody, body(nobody))).status).toBe(404);
    });

    it('refuses a PUT that renames the agent', async () => {
      const name = uniqueName('keep');
      await create(body(name));
      const res = await put(name, body('another-name'));
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([{ field: 'name', message: expect.stringContaining(name) }]);
    });
  });

  describe('tenants', () => {
    it("keeps a tenant's agent invisible and unusable to another tenant (404 / 400)", async () => {
      const name = uniqueName('private');
      await create(body(name));
      const asOther = (method: string, path: string, key: string, json?: unknown) =>
        request(a.url, method, path, { key, json });
      expect((await asOther('GET', `/v1/agents/${name}`, other.userKey)).status).toBe(404);
      const listed = await asOther('GET', '/v1/agents', other.userKey);
      expect(listed.body.map((x: { name: string }) => x.name)).not.toContain(name);
      expect((await asOther('PUT', `/v1/agents/${name}`, other.adminKey, body(name))).status).toBe(404);
      expect((await asOther('DELETE', `/v1/agents/${name}`, other.adminKey)).status).toBe(404);
      const used = await asOther('POST', '/v1/chat', other.userKey, { message: 'hi', agent_name: name });
      expect([used.status, used.body.error.details[0].field]).toEqual([400, 'agent_name']);
      const task = await asOther('POST', '/v1/tasks', other.userKey, { agent_name: name, instruction: 'hi' });
      expect(task.status).toBe(400);
      const conversation = await asOther('POST', '/v1/conversations', other.userKey, { agent_name: name });
      expect(conversation.status).toBe(400);
      // The other tenant may have an agent of the same name: each sees its own.
      const theirs = await asOther(
        'POST',
        '/v1/agents',
        other.adminKey,
        body(name, { description: 'Theirs.' }),
      );
      expect(theirs.status).toBe(201);
      expect((await a.request('GET', `/v1/agents/${name}`)).body.description).toBe(
        'Answers billing questions.',
      );
      expect((await asOther('GET', `/v1/agents/${name}`, other.userKey)).body.description).toBe('Theirs.');
    });

    it('serves a global agent to every tenant, and lets a tenant shadow it with its own', async () => {
      const name = uniqueName('shared');
      globalNames.push(name);
      const created = await create(body(name, { tenant: null }));
      expect([created.status, created.body.tenant]).toEqual([201, null]);
      const forOther = await request(a.url, 'GET', `/v1/agents/${name}`, { key: other.userKey });
      expect(forOther.body).toMatchObject({ name, tenant: null, version: 1 });
      const own = await create(body(name, { description: 'Our own.' }));
      expect([own.status, own.body.tenant]).toEqual([201, a.tenantId]);
      expect((await a.request('GET', `/v1/agents/${name}`)).body.description).toBe('Our own.');
      expect(
        (await request(a.url, 'GET', `/v1/agents/${name}`, { key: other.userKey })).body.description,
      ).toBe('Answers billing questions.');
      // PUT without tenant changes what the key's tenant sees (its own); tenant: null, the global one.
      expect((await put(name, body(name, { description: 'Ours, v2.' }))).body).toMatchObject({
        tenant: a.tenantId,
        version: 2,
      });
      expect((await put(name, body(name, { tenant: null, description: 'Global, v2.' }))).body).toMatchObject({
        tenant: null,
        version: 2,
      });
      const deleted = await a.request('DELETE', `/v1/agents/${name}?global=true`, { key: a.adminKey });
      expect(deleted.status).toBe(204);
      expect((await request(a.url, 'GET', `/v1/agents/${name}`, { key: other.userKey })).status).toBe(404);
      expect((await a.request('GET', `/v1/agents/${name}`)).body.description).toBe('Ours, v2.');
    });

    it('lets an admin key create an agent for another tenant by naming it', async () => {
      const name = uniqueName('theirs');
      const res = await create(body(name, { tenant: other.tenant }));
      expect([res.status, res.body.tenant]).toEqual([201, other.tenant]);
      expect((await request(a.url, 'GET', `/v1/agents/${name}`, { key: other.userKey })).status).toBe(200);
      expect((await a.request('GET', `/v1/agents/${name}`)).status).toBe(404);
    });
  });

  describe('versions pinned', () => {
    it('keeps a conversation on the version it started with; a new conversation gets the new one', async () => {
      const name = uniqueName('pinned');
      await create(body(name, { system_prompt: 'Prompt of version one.' }));
      fake.enqueue({ text: 'First answer.' }, { text: 'Second answer.' }, { text: 'Fresh answer.' });
      const first = await chat({ message: 'Hello', agent_name: name });
      expect(first.status).toBe(200);
      // The edit lands on the other instance: the first one learns of it through Redis.
      expect(
        (await put(name, body(name, { system_prompt: 'Prompt of version two.' }), a.adminKey, b)).status,
      ).toBe(200);
      const next = await chat({ message: 'And again', conversation_id: first.body.conversation_id });
      expect(next.status).toBe(200);
      const fresh = await chat({ message: 'Hello', agent_name: name });
      expect(fresh.status).toBe(200);
      expect(fake.requests.map(systemOf)).toEqual([
        expect.stringContaining('Prompt of version one.'),
        expect.stringContaining('Prompt of version one.'),
        expect.stringContaining('Prompt of version two.'),
      ]);
      expect(
        (await a.request('GET', `/v1/conversations/${first.body.conversation_id}`)).body.agent_version,
      ).toBe(1);
      expect(
        (await a.request('GET', `/v1/conversations/${fresh.body.conversation_id}`)).body.agent_version,
      ).toBe(2);
    });

    it('runs a task with the version current when it was created', async () => {
      const name = uniqueName('tasked');
      await create(body(name, { system_prompt: 'Task prompt one.' }));
      fake.enqueue({ text: 'Task done.' });
      const created = await a.request('POST', '/v1/tasks', {
        json: { agent_name: name, instruction: 'Do it.' },
      });
      expect(created.status).toBe(202);
      await put(name, body(name, { system_prompt: 'Task prompt two.' }));
      // No instance runs tasks until the new version is saved: then one that does starts.
      const worker = await startTestApp(env(true));
      try {
        const done = await waitForStatus((id) => a.request('GET', `/v1/tasks/${id}`), created.body.task_id, [
          'completed',
          'failed',
        ]);
        expect(done.status).toBe('completed');
      } finally {
        await worker.close();
      }
      expect(systemOf(fake.requests[0])).toContain('Task prompt one.');
    });
  });

  describe('the seeded agents', () => {
    it('are global version 1 with exactly the built-in definitions, and chat as before', async () => {
      const support = await a.request('GET', '/v1/agents/support');
      expect(support.body).toMatchObject({
        name: 'support',
        tenant: null,
        temperature: null,
        max_iterations: 6,
      });
      expect(support.body.system_prompt).toMatch(/^You are the customer support agent of an online software/);
      expect(support.body.tools.map((t: { name: string }) => t.name)).toEqual([
        'search_knowledge_base',
        'lookup_order',
        'create_support_ticket',
        'get_product_catalog',
        'calculator',
        'get_current_time',
      ]);
      const [seed] = await db.query(
        `SELECT v.version FROM agents a JOIN agent_versions v ON v.agent_id = a.id
          WHERE a.name = 'sales' AND a.tenant_id IS NULL AND v.version = 1`,
      );
      expect(seed).toEqual({ version: 1 });
      fake.enqueue({ text: 'How can I help?' });
      const turn = await chat({ message: 'Hi' });
      expect(turn.body).toMatchObject({ agent_name: 'support', response: 'How can I help?' });
      expect(systemOf(fake.requests[0])).toContain('customer support agent');
      expect(fake.requests[0].body.tools?.map((t) => t.name)).toContain('create_support_ticket');
    });
  });

  describe('GET /v1/tools', () => {
    it('lists every built-in tool with its origin', async () => {
      const res = await a.request('GET', '/v1/tools');
      expect(res.status).toBe(200);
      expect(res.body.length).toBeGreaterThanOrEqual(7);
      for (const tool of res.body) {
        expect(tool).toEqual({
          name: expect.any(String),
          description: expect.any(String),
          input_schema: expect.objectContaining({ type: 'object' }),
          origin: 'builtin',
        });
      }
    });
  });
});
