// MCP both ways: servers registered per tenant whose tools agents call (with reconnects, timeouts and failures as
// `is_error` results), and this backend's agents as tools of its own MCP endpoint, for any MCP client.
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ApiKeyService } from '@lib/auth';
import { McpToolRefresher } from '@lib/mcp';
import { ToolRegistry } from '@lib/tools';
import { FakeAnthropic } from './support/fake-anthropic';
import { McpTestServer } from './support/mcp-server';
import { openTestDataSource } from './support/database';
import { removeTenantData, startTestApp, TestApp } from './support/app';
import { removeQueueKeys, testQueuePrefix, waitForStatus, waitUntil } from './support/tasks';

jest.setTimeout(30_000);

const SECRET = `mcp-secret-${randomBytes(12).toString('hex')}`;
const SECRETS_KEY = randomBytes(32).toString('base64');

describe('MCP servers, MCP tools in agents, and the /mcp endpoint', () => {
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const logged = (text: string) => logLines.some((line) => String(JSON.parse(line).msg ?? '').includes(text));
  /** Every response body this file received, to look for the secret in. */
  const bodies: string[] = [];
  let fake: FakeAnthropic;
  let mcp: McpTestServer;
  let t: TestApp;
  let serverId: string;
  const agentName = `mcp-agent-${randomUUID().slice(0, 8)}`;
  const otherTenant = `test-other-${randomUUID()}`;
  let otherAdminKey: string;
  let otherUserKey: string;
  const globalServerIds: string[] = [];
  const prefix = testQueuePrefix('mcp');

  const call = async (method: string, path: string, options: Parameters<TestApp['request']>[2] = {}) => {
    const res = await t.request(method, path, options);
    bodies.push(JSON.stringify(res.body));
    return res;
  };
  const register = (json: Record<string, unknown>, key = t.adminKey) =>
    call('POST', '/v1/mcp-servers', { key, json });

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    mcp = await McpTestServer.start({ requiredHeaders: { authorization: `Bearer ${SECRET}` } });
    t = await startTestApp(
      {
        ANTHROPIC_API_KEY: 'sk-ant-test',
        ANTHROPIC_BASE_URL: fake.url,
        LLM_MAX_RETRIES: '0',
        OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
        SECRETS_KEY,
        TOOL_TIMEOUT_MS: '1500',
        MCP_CONNECT_TIMEOUT_MS: '2000',
        QUEUE_PREFIX: prefix,
        RUN_WORKERS_IN_API: 'true',
        LOG_LEVEL: 'info',
      },
      { logDestination: destination },
    );
    const keys = t.app.get(ApiKeyService);
    otherAdminKey = (await keys.create({ tenant: otherTenant, role: 'admin', name: 'other admin' })).key;
    otherUserKey = (await keys.create({ tenant: otherTenant, role: 'user', name: 'other user' })).key;
  });

  afterEach(() => fake.reset());

  afterAll(async () => {
    await t?.close();
    await removeTenantData(otherTenant);
    if (globalServerIds.length) {
      const db = await openTestDataSource();
      await db.query(`DELETE FROM mcp_servers WHERE id = ANY($1)`, [globalServerIds]);
      await db.destroy();
    }
    await mcp?.stop();
    await fake?.stop();
    await removeQueueKeys(prefix);
  });

  describe('registering a server', () => {
    it('contacts the server, lists its tools (an invalid input schema is skipped) and never returns its headers', async () => {
      const res = await register({
        name: 'tools',
        url: mcp.url,
        headers: { Authorization: `Bearer ${SECRET}` },
      });
      expect(res.status).toBe(201);
      serverId = res.body.id;
      expect(res.body).toMatchObject({ name: 'tools', url: mcp.url, tenant: t.tenantId, has_headers: true });
      const names = res.body.tools.map((tool: { name: string }) => tool.name);
      expect(names).toEqual(
        expect.arrayContaining([
          'tools__echo',
          'tools__fail',
          'tools__slow',
          'tools__garbage',
          'tools__drop',
        ]),
      );
      expect(names).not.toContain('tools__bad_schema');
      expect(
        res.body.tools.find((tool: { name: string }) => tool.name === 'tools__echo').input_schema,
      ).toMatchObject({ type: 'object', required: ['text'] });
      expect(JSON.stringify(res.body)).not.toContain(SECRET);
      expect(logged('skipped tool "bad_schema"')).toBe(true);
      // Stored encrypted: the clear text is nowhere in the row.
      const db = await openTestDataSource();
      const [row] = await db.query(`SELECT * FROM mcp_servers WHERE id = $1`, [serverId]);
      await db.destroy();
      expect(JSON.stringify(row)).not.toContain(SECRET);
      expect(row.headers_encrypted).toMatch(/^v1:/);
    });

    it("reads the tenant's servers with any key, never their headers", async () => {
      const list = await call('GET', '/v1/mcp-servers');
      expect(list.status).toBe(200);
      expect(list.body.map((s: { id: string }) => s.id)).toContain(serverId);
      const one = await call('GET', `/v1/mcp-servers/${serverId}`);
      expect(one.status).toBe(200);
      expect(one.body.headers).toBeUndefined();
      expect(JSON.stringify(one.body)).not.toContain(SECRET);
    });

    it('refuses bad input before contacting anything', async () => {
      expect((await register({ name: 'tools2', url: mcp.url }, t.userKey)).status).toBe(403);
      const badName = await register({ name: 'Bad__Name', url: mcp.url });
      expect(badName.status).toBe(400);
      expect(badName.body.error.details[0].field).toBe('name');
      const long = await register({ name: 'long', url: mcp.url, headers: { 'X-Api-Key': 'x'.repeat(4097) } });
      expect(long.status).toBe(400);
      expect(long.body.error.details[0].field).toBe('headers.X-Api-Key');
      const reserved = await register({ name: 'reserved', url: mcp.url, headers: { 'Mcp-Session-Id': 'x' } });
      expect(reserved.status).toBe(400);
      const notString = await register({ name: 'num', url: mcp.url, headers: { 'X-Api-Key': 5 } });
      expect(notString.status).toBe(400);
      expect((await register({ name: 'nourl', url: 'ftp://example.com' })).status).toBe(400);
      expect((await register({ name: 'tools', url: mcp.url, extra: 1 })).status).toBe(400);
    });

    it('answers 400 with the reason for a server that cannot be reached, refuses it, or does not speak MCP', async () => {
      const closed = await register({ name: 'closed', url: 'http://127.0.0.1:1/mcp' });
      expect(closed.status).toBe(400);
      expect(closed.body.error.details[0]).toMatchObject({ field: 'url' });
      // The SSRF guard: loopback by another name is not on the allow-list.
      const guarded = await register({ name: 'guarded', url: `http://localhost:${mcp.port}/mcp` });
      expect(guarded.status).toBe(400);
      expect(guarded.body.error.message).toContain('OUTBOUND_ALLOWED_HOSTS');
      const notMcp = await register({ name: 'notmcp', url: `${fake.url}/v1/messages` });
      expect(notMcp.status).toBe(400);
      const unauthorized = await register({ name: 'nokey', url: mcp.url });
      expect(unauthorized.status).toBe(400);
      expect(unauthorized.body.error.message).toContain('401');
    });

    it('answers 409 for a name the tenant already sees', async () => {
      const res = await register({
        name: 'tools',
        url: mcp.url,
        headers: { Authorization: `Bearer ${SECRET}` },
      });
      expect(res.status).toBe(409);
      expect(res.body.error.type).toBe('conflict');
    });

    it("lists the tenant's MCP tools in GET /v1/tools with their origin", async () => {
      const res = await call('GET', '/v1/tools');
      expect(res.status).toBe(200);
      expect(res.body.find((tool: { name: string }) => tool.name === 'tools__echo')).toMatchObject({
        origin: 'mcp:tools',
        input_schema: { type: 'object' },
      });
      expect(res.body.find((tool: { name: string }) => tool.name === 'lookup_order')).toMatchObject({
        origin: 'builtin',
      });
    });
  });

  describe('MCP tools in an agent', () => {
    it("creates an agent naming the server's tools (one by one or all with <server>__*), resolved with their schemas", async () => {
      const res = await call('POST', '/v1/agents', {
        key: t.adminKey,
        json: {
          name: agentName,
          description: 'Uses the test MCP server.',
          system_prompt: 'Use the tools.',
          max_iterations: 4,
          tools: ['tools__*', 'calculator'],
        },
      });
      expect(res.status).toBe(201);
      const shown = await call('GET', `/v1/agents/${agentName}`);
      expect(shown.status).toBe(200);
      expect(shown.body.tools.find((tool: { name: string }) => tool.name === 'tools__echo')).toMatchObject({
        origin: 'mcp:tools',
        input_schema: { type: 'object', required: ['text'] },
      });
      const unknown = await call('POST', '/v1/agents', {
        key: t.adminKey,
        json: {
          name: `${agentName}-x`,
          description: 'x',
          system_prompt: 'x',
          tools: ['tools__nope', 'nope__*'],
        },
      });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.details.map((d: { field: string }) => d.field)).toEqual([
        'tools[0]',
        'tools[1]',
      ]);
    });

    /** One turn in which the model calls `tool` with `input`, then answers. */
    const turnCalling = async (
      tool: string,
      input: Record<string, unknown>,
      conversationId?: string,
      key?: string,
    ) => {
      fake.enqueue({ toolUses: [{ name: tool, input }] }, { text: 'Done.' });
      const res = await call('POST', '/v1/chat', {
        key,
        json: {
          message: 'Go.',
          agent_name: agentName,
          ...(conversationId ? { conversation_id: conversationId } : {}),
        },
      });
      expect(res.status).toBe(200);
      return res;
    };
    const toolResult = (request: { body: { messages: Array<{ content: unknown }> } }) => {
      const last = request.body.messages.at(-1)!.content as Array<Record<string, unknown>>;
      return last.find((block) => block.type === 'tool_result')!;
    };

    it("offers the server's tools with their schemas, calls one with the tenant and the idempotency key in _meta, and keeps the result in history", async () => {
      const before = mcp.calls.length;
      const res = await turnCalling('tools__echo', { text: 'hello' });
      const offered = fake.requests[0].body.tools!.map((tool) => tool.name);
      expect(offered).toEqual(expect.arrayContaining(['tools__echo', 'tools__fail', 'calculator']));
      expect(
        fake.requests[0].body.tools!.find((tool) => tool.name === 'tools__echo')!.input_schema,
      ).toMatchObject({
        required: ['text'],
      });
      expect(res.body.tools_used[0]).toMatchObject({ tool_name: 'tools__echo', is_error: false });
      const recorded = mcp.calls.slice(before).find((c) => c.name === 'echo')!;
      expect(recorded.arguments).toEqual({ text: 'hello' });
      expect(recorded.meta.tenant_id).toBe(t.tenantId);
      expect(recorded.meta.idempotency_key).toMatch(new RegExp(`^${res.body.run_id}:toolu_`));
      const history = await call('GET', `/v1/conversations/${res.body.conversation_id}`);
      const stored = JSON.stringify(history.body.messages);
      expect(stored).toContain('echo: hello');
      expect(stored).toContain(t.tenantId);
    });

    it('turns a tool error, a timeout, garbage, a dropped connection and bad input into is_error results; the turn answers 200', async () => {
      for (const [tool, input, expected] of [
        ['tools__fail', {}, 'The order system is down.'],
        ['tools__slow', { ms: 5_000 }, 'timed out after 1500 ms'],
        ['tools__garbage', {}, 'could not be reached or did not answer in MCP'],
        ['tools__drop', {}, 'could not be reached or did not answer in MCP'],
        ['tools__echo', { text: 5 }, 'Invalid input for tool "tools__echo"'],
      ] as const) {
        const res = await turnCalling(tool, input);
        expect(res.body.tools_used[0]).toMatchObject({ tool_name: tool, is_error: true });
        const result = toolResult(fake.requests.at(-1)!);
        expect(result.is_error).toBe(true);
        expect(String(result.content)).toContain(expected);
        fake.reset();
      }
    });

    it("a task's run calls the tool too, with the task's run in the idempotency key", async () => {
      const before = mcp.calls.length;
      fake.enqueue(
        { toolUses: [{ name: 'tools__echo', input: { text: 'from a task' } }] },
        { text: 'Done.' },
      );
      const created = await call('POST', '/v1/tasks', {
        json: { agent_name: agentName, instruction: 'Echo something.' },
      });
      expect(created.status).toBe(202);
      const task = await waitForStatus((id) => call('GET', `/v1/tasks/${id}`), created.body.task_id, [
        'completed',
        'failed',
      ]);
      expect(task.status).toBe('completed');
      const recorded = mcp.calls.slice(before).find((c) => c.name === 'echo')!;
      expect(recorded.meta).toMatchObject({ tenant_id: t.tenantId });
      expect(task.run_id).toEqual(expect.any(String));
      expect(recorded.meta.idempotency_key).toMatch(new RegExp(`^${task.run_id}:toolu_`));
    });

    it('goes on after the server restarts mid-conversation: the lost session is reopened once, the turn succeeds', async () => {
      const first = await turnCalling('tools__echo', { text: 'before' });
      const sessionFailures = () =>
        logLines.filter((line) => JSON.parse(line).msg?.includes('the session failed'));
      const failuresBefore = sessionFailures().length;
      const port = mcp.port;
      await mcp.stop();
      mcp = await McpTestServer.start({ port, requiredHeaders: { authorization: `Bearer ${SECRET}` } });
      fake.reset();
      const second = await turnCalling('tools__echo', { text: 'after' }, first.body.conversation_id);
      expect(second.body.tools_used[0]).toMatchObject({ tool_name: 'tools__echo', is_error: false });
      expect(String(toolResult(fake.requests.at(-1)!).content)).toContain('echo: after');
      expect(sessionFailures().length).toBe(failuresBefore + 1);
      expect(mcp.calls.map((c) => c.name)).toEqual(['echo']);
    });

    it('refreshes the cached tools when the server announces tools/list_changed', async () => {
      await turnCalling('tools__echo', { text: 'open a session' });
      await mcp.addTool({
        name: 'added',
        description: 'New.',
        inputSchema: { type: 'object', properties: {} },
      });
      await waitUntil(
        () => call('GET', `/v1/mcp-servers/${serverId}`),
        (res) => res.body.tools.some((tool: { name: string }) => tool.name === 'tools__added'),
        5_000,
        'the new tool in the cached list',
      );
    });

    it('reads the tool list again on schedule, once it is older than MCP_TOOLS_REFRESH_SECONDS', async () => {
      const db = await openTestDataSource();
      await db.query(
        `UPDATE mcp_servers SET tools = '[]', tools_refreshed_at = now() - interval '1 hour' WHERE id = $1`,
        [serverId],
      );
      await db.destroy();
      await t.app.get(McpToolRefresher).refreshStale();
      const res = await call('GET', `/v1/mcp-servers/${serverId}`);
      expect(res.body.tools.map((tool: { name: string }) => tool.name)).toEqual(
        expect.arrayContaining(['tools__echo', 'tools__added']),
      );
      expect(Date.now() - Date.parse(res.body.tools_refreshed_at)).toBeLessThan(60_000);
    });
  });

  describe('tenants', () => {
    it('another tenant cannot see, read, delete or name the server', async () => {
      expect((await call('GET', `/v1/mcp-servers/${serverId}`, { key: otherUserKey })).status).toBe(404);
      expect((await call('DELETE', `/v1/mcp-servers/${serverId}`, { key: otherAdminKey })).status).toBe(404);
      const list = await call('GET', '/v1/mcp-servers', { key: otherUserKey });
      expect(list.body.map((s: { id: string }) => s.id)).not.toContain(serverId);
      const tools = await call('GET', '/v1/tools', { key: otherUserKey });
      expect(tools.body.map((tool: { name: string }) => tool.name)).not.toContain('tools__echo');
      // Neither the other tenant's agent nor a global agent (every tenant's) may name it.
      for (const [key, tenant] of [
        [otherAdminKey, undefined],
        [t.adminKey, null],
      ] as const) {
        const res = await call('POST', '/v1/agents', {
          key,
          json: {
            name: `steal-${randomUUID().slice(0, 8)}`,
            description: 'x',
            system_prompt: 'x',
            tools: ['tools__echo'],
            ...(tenant === null ? { tenant: null } : {}),
          },
        });
        expect(res.status).toBe(400);
        expect(res.body.error.details[0]).toMatchObject({ field: 'tools[0]' });
      }
      // What agent creation asks: for the other tenant the name stands for nothing.
      const registry = t.app.get(ToolRegistry);
      expect(
        (await registry.resolve(['tools__echo', 'tools__*', 'calculator'], otherTenant)).unknown,
      ).toEqual(['tools__echo', 'tools__*']);
      expect((await registry.resolve(['tools__echo'], t.tenantId)).unknown).toEqual([]);
      // A global agent (none of its tools visible to every tenant) may not name it either.
      expect(await registry.exists('tools__echo', null)).toBe(false);
    });

    it("a model that names the tool in another tenant's run gets an is_error result; the server is never called", async () => {
      const name = `other-${randomUUID().slice(0, 8)}`;
      const created = await call('POST', '/v1/agents', {
        key: otherAdminKey,
        json: { name, description: 'x', system_prompt: 'x', tools: ['calculator'] },
      });
      expect(created.status).toBe(201);
      const before = mcp.calls.length;
      fake.enqueue({ toolUses: [{ name: 'tools__echo', input: { text: 'steal' } }] }, { text: 'Done.' });
      const res = await call('POST', '/v1/chat', {
        key: otherUserKey,
        json: { message: 'Go.', agent_name: name },
      });
      expect(res.status).toBe(200);
      expect(fake.requests[0].body.tools!.map((tool) => tool.name)).toEqual(['calculator']);
      expect(res.body.tools_used[0]).toMatchObject({ tool_name: 'tools__echo', is_error: true });
      expect(mcp.calls.length).toBe(before);
    });

    it("a global server is every tenant's; its name is then taken for all", async () => {
      const name = `global-${randomUUID().slice(0, 8)}`;
      const res = await register({
        name,
        url: mcp.url,
        headers: { Authorization: `Bearer ${SECRET}` },
        tenant: null,
      });
      expect(res.status).toBe(201);
      globalServerIds.push(res.body.id);
      expect(res.body.tenant).toBeNull();
      expect((await call('GET', `/v1/mcp-servers/${res.body.id}`, { key: otherUserKey })).status).toBe(200);
      const clash = await register(
        { name, url: mcp.url, headers: { Authorization: `Bearer ${SECRET}` } },
        otherAdminKey,
      );
      expect(clash.status).toBe(409);
      expect(await t.app.get(ToolRegistry).exists(`${name}__echo`, null)).toBe(true);
    });

    it('deletes a server: its tools are gone for the tenant', async () => {
      const res = await register({
        name: 'doomed',
        url: mcp.url,
        headers: { Authorization: `Bearer ${SECRET}` },
      });
      expect(res.status).toBe(201);
      expect((await call('DELETE', `/v1/mcp-servers/${res.body.id}`, { key: t.userKey })).status).toBe(403);
      expect((await call('DELETE', `/v1/mcp-servers/${res.body.id}`, { key: t.adminKey })).status).toBe(204);
      expect((await call('GET', `/v1/mcp-servers/${res.body.id}`)).status).toBe(404);
      expect(await t.app.get(ToolRegistry).exists('doomed__echo', t.tenantId)).toBe(false);
    });
  });

  describe('/mcp: this backend as an MCP server', () => {
    const connect = async (key: string | null) => {
      const client = new Client({ name: 'e2e-client', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(`${t.url}/mcp`), {
        requestInit: key ? { headers: { Authorization: `Bearer ${key}` } } : {},
      });
      await client.connect(transport);
      return client;
    };

    it('lists one tool per agent and runs a turn per call as a run with source "mcp"', async () => {
      const client = await connect(t.userKey);
      try {
        const { tools } = await client.listTools();
        const support = tools.find((tool) => tool.name === 'support')!;
        expect(support.inputSchema).toMatchObject({ type: 'object', required: ['message'] });
        expect(tools.map((tool) => tool.name)).toContain(agentName);

        fake.enqueue({ text: 'Hello from support.' });
        const result = await client.callTool({ name: 'support', arguments: { message: 'Hi there' } });
        expect(result.isError).toBeFalsy();
        expect(result.content).toEqual([{ type: 'text', text: 'Hello from support.' }]);
        const structured = result.structuredContent as { conversation_id: string; run_id: string };
        expect(structured.conversation_id).toMatch(/^[0-9a-f-]{36}$/);
        const run = await call('GET', `/v1/runs/${structured.run_id}`);
        expect(run.body).toMatchObject({ source: 'mcp', status: 'completed', agent_name: 'support' });

        fake.enqueue({ text: 'Still here.' });
        const again = await client.callTool({
          name: 'support',
          arguments: { message: 'And again', conversation_id: structured.conversation_id },
        });
        expect((again.structuredContent as { conversation_id: string }).conversation_id).toBe(
          structured.conversation_id,
        );
        const history = await call('GET', `/v1/conversations/${structured.conversation_id}`);
        expect(history.body.message_count).toBe(4);

        const wrongAgent = await client.callTool({
          name: 'sales',
          arguments: { message: 'Hi', conversation_id: structured.conversation_id },
        });
        expect(wrongAgent.isError).toBe(true);
        const bad = await client.callTool({ name: 'support', arguments: { message: '' } });
        expect(bad.isError).toBe(true);
        expect(JSON.stringify(bad.content)).toContain('validation_error');
        const unknownConversation = await client.callTool({
          name: 'support',
          arguments: { message: 'Hi', conversation_id: randomUUID() },
        });
        expect(unknownConversation.isError).toBe(true);
        expect(JSON.stringify(unknownConversation.content)).toContain('not_found');
      } finally {
        await client.close();
      }
    });

    it("lists only the agents of the key's tenant (and the global ones)", async () => {
      const client = await connect(otherUserKey);
      try {
        const names = (await client.listTools()).tools.map((tool) => tool.name);
        expect(names).toContain('support');
        expect(names).not.toContain(agentName);
        await expect(client.callTool({ name: agentName, arguments: { message: 'Hi' } })).rejects.toThrow(
          /Unknown tool/,
        );
      } finally {
        await client.close();
      }
    });

    it('refuses a call without a valid API key (401, the REST envelope)', async () => {
      await expect(connect(null)).rejects.toThrow(/unauthorized/);
      const res = await call('POST', '/mcp', {
        key: null,
        json: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      });
      expect(res.status).toBe(401);
      expect(res.body.error.type).toBe('unauthorized');
    });

    it('answers 405 to GET and DELETE (stateless: no stream, no session)', async () => {
      expect((await call('GET', '/mcp')).status).toBe(405);
      expect((await call('DELETE', '/mcp')).status).toBe(405);
    });
  });

  describe('without SECRETS_KEY', () => {
    let plain: TestApp;
    let open: McpTestServer;

    beforeAll(async () => {
      open = await McpTestServer.start();
      plain = await startTestApp({ OUTBOUND_ALLOWED_HOSTS: '127.0.0.1', RATE_LIMIT_REQUESTS: '4' });
    });

    afterAll(async () => {
      await plain?.close();
      await open?.stop();
    });

    it('refuses a server with headers (503) before contacting it, and stores nothing', async () => {
      const res = await plain.request('POST', '/v1/mcp-servers', {
        key: plain.adminKey,
        json: { name: 'locked', url: open.url, headers: { Authorization: `Bearer ${SECRET}` } },
      });
      bodies.push(JSON.stringify(res.body));
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({ type: 'service_unavailable' });
      expect(res.body.error.message).toContain('SECRETS_KEY is not set');
      expect(open.requestHeaders).toEqual([]);
      const listed = (await plain.request('GET', '/v1/mcp-servers')).body as Array<{ name: string }>;
      expect(listed.map((server) => server.name)).not.toContain('locked');
    });

    it("counts /mcp requests against the key's rate limit, as REST requests", async () => {
      const key = (
        await plain.app.get(ApiKeyService).create({ tenant: plain.tenantId, role: 'user', name: 'limited' })
      ).key;
      const list = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
      const headers = { accept: 'application/json, text/event-stream' };
      const answers = [];
      for (let i = 0; i < 5; i += 1)
        answers.push(await plain.request('POST', '/mcp', { key, json: list, headers }));
      expect(answers.map((res) => res.status)).toEqual([200, 200, 200, 200, 429]);
      // The answers written by the MCP transport carry the headers every answer has.
      expect(answers[0].headers.get('x-request-id')).toMatch(/\S/);
      expect(answers[0].headers.get('x-ratelimit-remaining')).toBe('3');
      expect(answers[0].body.result.tools.map((tool: { name: string }) => tool.name)).toContain('support');
      const limited = await plain.request('POST', '/mcp', { key, json: list, headers });
      expect(limited.body.error.type).toBe('rate_limited');
      expect(limited.headers.get('retry-after')).toBeTruthy();
    });

    it('registers a server that needs no headers', async () => {
      const res = await plain.request('POST', '/v1/mcp-servers', {
        key: plain.adminKey,
        json: { name: 'open', url: open.url },
      });
      expect(res.status).toBe(201);
      expect(res.body.has_headers).toBe(false);
    });
  });

  describe('secrets', () => {
    it('never writes the secret (or SECRETS_KEY) to a response or a log line', () => {
      expect(logLines.length).toBeGreaterThan(0);
      for (const line of logLines) expect(line).not.toContain(SECRET);
      for (const body of bodies) expect(body).not.toContain(SECRET);
      expect(logLines.join('\n')).not.toContain(SECRETS_KEY);
    });
  });
});
