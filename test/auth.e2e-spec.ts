// API keys end to end: the admin API, the global guard on every route, roles, revocation, and tenant isolation.
import { createHash, randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { startTestApp, TestApp } from './support/app';
import { openTestDataSource } from './support/database';
import { apiOperations, fill, isAdmin, isV1, label, Operation } from './support/routes';

const KEY_FORMAT = /^ak_live_[0-9A-Za-z]{43}$/;

describe('API keys and the global guard', () => {
  let t: TestApp;
  let db: DataSource;
  let operations: Operation[];

  beforeAll(async () => {
    t = await startTestApp();
    db = await openTestDataSource();
    operations = await apiOperations(t);
  });

  afterAll(async () => {
    await db.destroy();
    await t.close();
  });

  const issue = async (role: 'user' | 'admin' = 'user', tenant = t.tenantId) => {
    const res = await t.request('POST', '/v1/admin/api-keys', {
      key: t.adminKey,
      json: { tenant, role, name: `e2e ${role} ${randomUUID().slice(0, 8)}` },
    });
    expect(res.status).toBe(201);
    return res.body as { id: string; key: string; tenant: string; role: string; name: string };
  };

  describe('the admin API', () => {
    it('issues a key once, with a recognisable prefix, and stores only its SHA-256 hash', async () => {
      const res = await t.request('POST', '/v1/admin/api-keys', {
        key: t.adminKey,
        json: { tenant: t.tenantId, role: 'user', name: 'billing-service' },
      });
      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(['id', 'key', 'name', 'role', 'tenant']);
      expect(res.body).toMatchObject({ tenant: t.tenantId, role: 'user', name: 'billing-service' });
      expect(res.body.key).toMatch(KEY_FORMAT);
      const [row] = await db.query(`SELECT * FROM api_keys WHERE id = $1`, [res.body.id]);
      expect(row).toMatchObject({
        tenant_id: t.tenantId,
        name: 'billing-service',
        role: 'user',
        prefix: res.body.key.slice(0, 12),
        last_used_at: null,
        revoked_at: null,
      });
      expect(row.created_at).toBeInstanceOf(Date);
      expect(Buffer.from(row.key_hash).equals(createHash('sha256').update(res.body.key).digest())).toBe(true);
      const stored = JSON.stringify(row, (_k, v) =>
        v?.type === 'Buffer' ? Buffer.from(v.data).toString() : v,
      );
      expect(stored).not.toContain(res.body.key.slice(12));
      const used = await t.request('GET', '/v1/agents', { key: res.body.key });
      expect(used.status).toBe(200);
    });

    it('issues keys that differ every time', async () => {
      const keys = await Promise.all([issue(), issue(), issue()]);
      expect(new Set(keys.map((k) => k.key)).size).toBe(3);
    });

    it('records last_used_at on use, at most once a minute per key', async () => {
      const issued = await issue();
      await t.request('GET', '/v1/agents', { key: issued.key });
      let first: Date | null = null;
      for (let i = 0; i < 50 && !first; i++) {
        [{ last_used_at: first }] = await db.query(`SELECT last_used_at FROM api_keys WHERE id = $1`, [
          issued.id,
        ]);
        if (!first) await new Promise((r) => setTimeout(r, 20));
      }
      expect(first).toBeInstanceOf(Date);
      await t.request('GET', '/v1/agents', { key: issued.key });
      await new Promise((r) => setTimeout(r, 100));
      const [{ last_used_at: second }] = await db.query(`SELECT last_used_at FROM api_keys WHERE id = $1`, [
        issued.id,
      ]);
      expect(second).toEqual(first);
    });

    it.each([
      [{ tenant: '', role: 'user', name: 'x' }, 'tenant'],
      [{ tenant: 'has spaces', role: 'user', name: 'x' }, 'tenant'],
      [{ tenant: 'acme', role: 'root', name: 'x' }, 'role'],
      [{ tenant: 'acme', role: 'user', name: '' }, 'name'],
      [{ tenant: 'acme', role: 'user' }, 'name'],
      [{ tenant: 'acme', role: 'user', name: 'x', scopes: ['all'] }, 'scopes'],
    ])('refuses %j with a detail on %s', async (json, field) => {
      const res = await t.request('POST', '/v1/admin/api-keys', { key: t.adminKey, json });
      expect(res.status).toBe(400);
      expect(res.body.error.type).toBe('validation_error');
      expect(res.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    });

    it('revokes a key: it is refused at once, and revoking it again answers 404', async () => {
      const issued = await issue();
      expect((await t.request('GET', '/v1/agents', { key: issued.key })).status).toBe(200);
      const revoked = await t.request('DELETE', `/v1/admin/api-keys/${issued.id}`, { key: t.adminKey });
      expect(revoked.status).toBe(204);
      const refused = await t.request('GET', '/v1/agents', { key: issued.key });
      expect(refused.status).toBe(401);
      expect(refused.body.error.type).toBe('unauthorized');
      const [row] = await db.query(`SELECT revoked_at FROM api_keys WHERE id = $1`, [issued.id]);
      expect(row.revoked_at).toBeInstanceOf(Date);
      const again = await t.request('DELETE', `/v1/admin/api-keys/${issued.id}`, { key: t.adminKey });
      expect(again.status).toBe(404);
      expect(again.body.error.type).toBe('not_found');
    });

    it('lists keys newest first by their prefix, one tenant or all, revoked ones only when asked', async () => {
      const tenant = `list-${randomUUID().slice(0, 8)}`;
      const first = await issue('user', tenant);
      const second = await issue('admin', tenant);
      const list = await t.request('GET', `/v1/admin/api-keys?tenant=${tenant}`, { key: t.adminKey });
      expect(list.status).toBe(200);
      expect(list.body).toMatchObject({ total: 2, page: 1, page_size: 20 });
      expect(list.body.keys.map((k: { id: string }) => k.id)).toEqual([second.id, first.id]);
      expect(list.body.keys[1]).toEqual({
        id: first.id,
        tenant,
        role: 'user',
        name: first.name,
        prefix: first.key.slice(0, 12),
        created_at: expect.any(String),
        last_used_at: null,
        revoked_at: null,
      });
      expect(JSON.stringify(list.body)).not.toContain(first.key.slice(12));

      await t.request('DELETE', `/v1/admin/api-keys/${first.id}`, { key: t.adminKey });
      const active = await t.request('GET', `/v1/admin/api-keys?tenant=${tenant}`, { key: t.adminKey });
      expect(active.body.keys.map((k: { id: string }) => k.id)).toEqual([second.id]);
      const all = await t.request(
        'GET',
        `/v1/admin/api-keys?tenant=${tenant}&include_revoked=true&page_size=1&page=2`,
        {
          key: t.adminKey,
        },
      );
      expect(all.body).toMatchObject({ total: 2, page: 2, page_size: 1 });
      expect(all.body.keys).toEqual([
        expect.objectContaining({ id: first.id, revoked_at: expect.any(String) }),
      ]);

      const everyone = await t.request('GET', '/v1/admin/api-keys?page_size=100', { key: t.adminKey });
      expect(everyone.body.total).toBeGreaterThanOrEqual(2);
      const bad = await t.request('GET', '/v1/admin/api-keys?include_revoked=maybe&tenant=has%20spaces', {
        key: t.adminKey,
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error.details.map((d: { field: string }) => d.field).sort()).toEqual([
        'include_revoked',
        'tenant',
      ]);
      const user = await issue('user', tenant);
      expect((await t.request('GET', '/v1/admin/api-keys', { key: user.key })).status).toBe(403);
    });

    it('answers 404 for an unknown key id and 400 for one that is not a UUID', async () => {
      const unknown = await t.request('DELETE', `/v1/admin/api-keys/${randomUUID()}`, { key: t.adminKey });
      expect(unknown.status).toBe(404);
      const bad = await t.request('DELETE', '/v1/admin/api-keys/42', { key: t.adminKey });
      expect(bad.status).toBe(400);
      expect(bad.body.error.details).toEqual([{ field: 'id', message: 'must be a UUID' }]);
    });

    it('lets an admin key use the tenant routes too, as its own tenant', async () => {
      const created = await t.request('POST', '/v1/conversations', {
        key: t.adminKey,
        json: { agent_name: 'support' },
      });
      expect(created.status).toBe(201);
      expect((await t.request('GET', `/v1/conversations/${created.body.id}`)).status).toBe(200);
    });
  });

  describe('every route, table-driven from the OpenAPI document', () => {
    const call = (op: Operation, key: string | null, headers: Record<string, string> = {}) =>
      t.request(op.method, fill(op.path, randomUUID()), {
        key,
        headers,
        json: op.method === 'POST' ? {} : undefined,
      });

    it('finds the routes it walks: every /v1 route, the admin ones among them', () => {
      const v1 = operations.filter(isV1).map(label);
      expect(v1).toEqual(
        expect.arrayContaining([
          'POST /v1/chat',
          'GET /v1/conversations',
          'GET /v1/conversations/{id}',
          'DELETE /v1/conversations/{id}',
          'GET /v1/agents',
          'GET /v1/admin/api-keys',
          'POST /v1/admin/api-keys',
          'DELETE /v1/admin/api-keys/{id}',
          'POST /v1/agents',
          'PUT /v1/agents/{name}',
          'DELETE /v1/agents/{name}',
        ]),
      );
      expect(operations.filter(isAdmin).map(label)).toEqual(
        expect.arrayContaining(['POST /v1/agents', 'PUT /v1/agents/{name}', 'DELETE /v1/agents/{name}']),
      );
    });

    it('answers 401 unauthorized without a key on every /v1 route, with WWW-Authenticate', async () => {
      const outcomes: Record<string, string> = {};
      for (const op of operations.filter(isV1)) {
        const res = await call(op, null);
        outcomes[label(op)] = `${res.status} ${res.body?.error?.type} ${res.headers.get('www-authenticate')}`;
      }
      const expected = Object.fromEntries(
        Object.keys(outcomes).map((k) => [k, '401 unauthorized Bearer realm="agent-backend"']),
      );
      expect(outcomes).toEqual(expected);
    });

    it.each([
      [
        'a key that is not ours',
        { authorization: 'Bearer ak_live_notARealKeyButLongEnoughToLookUp000000000' },
      ],
      ['a truncated key', { authorization: 'Bearer ak_live_abc' }],
      ['another scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
      ['an empty bearer', { authorization: 'Bearer ' }],
      ['a key with a space in it', { authorization: 'Bearer ak_live_a b' }],
      [
        'a bare key without the scheme',
        { authorization: 'ak_live_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG' },
      ],
    ])('answers 401 on every /v1 route for %s', async (_case, headers) => {
      const outcomes: Record<string, number> = {};
      for (const op of operations.filter(isV1)) outcomes[label(op)] = (await call(op, null, headers)).status;
      expect(Object.values(outcomes).every((s) => s === 401)).toBe(true);
      expect(Object.keys(outcomes).length).toBeGreaterThan(5);
    });

    it('answers 401 on every /v1 route for a revoked key', async () => {
      const issued = await issue('admin');
      await t.request('DELETE', `/v1/admin/api-keys/${issued.id}`, { key: t.adminKey });
      const outcomes: Record<string, number> = {};
      for (const op of operations.filter(isV1)) outcomes[label(op)] = (await call(op, issued.key)).status;
      expect(new Set(Object.values(outcomes))).toEqual(new Set([401]));
    });

    it('answers 403 forbidden to a user key on every admin route, and lets an admin key through', async () => {
      const admin = operations.filter(isAdmin);
      expect(admin.length).toBeGreaterThanOrEqual(2);
      for (const op of admin) {
        const asUser = await call(op, t.userKey);
        expect([label(op), asUser.status, asUser.body.error.type]).toEqual([label(op), 403, 'forbidden']);
        const asAdmin = await call(op, t.adminKey);
        expect([label(op), asAdmin.status]).not.toEqual([label(op), 403]);
        expect([label(op), asAdmin.status]).not.toEqual([label(op), 401]);
      }
    });

    it('serves health, docs and the OpenAPI document without a key', async () => {
      for (const path of ['/health/live', '/health/ready', '/docs', '/docs-json']) {
        const res = await t.request('GET', path, { key: null });
        expect([path, res.status]).toEqual([path, 200]);
      }
    });

    it('declares the bearer scheme, and 401/429 on every /v1 route (403 on admin routes), so /docs can authorise', async () => {
      const doc = (await t.request('GET', '/docs-json', { key: null })).body;
      expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
      for (const op of operations.filter(isV1)) {
        expect([label(op), op.security]).toEqual([label(op), [{ bearer: [] }]]);
        expect([label(op), Object.keys(op.responses)]).toEqual([
          label(op),
          expect.arrayContaining(isAdmin(op) ? ['401', '403', '429'] : ['401', '429']),
        ]);
      }
      for (const path of ['/health/live', '/health/ready'])
        expect(doc.paths[path].get.security).toBeUndefined();
    });
  });

  describe('tenant isolation', () => {
    /** A finished turn of tenant A: a conversation with a stored turn, its run, and the run's retained events. */
    const turn = async (a: TestApp) => {
      const res = await a.request('POST', '/v1/chat', { json: { message: 'Hello, only for A' } });
      expect([res.status, res.body.run_id]).toEqual([200, expect.any(String)]);
      return res.body as { conversation_id: string; run_id: string };
    };
    /**
     * How to make a resource of each collection with tenant A's key; a new id-bearing route needs a line here.
     * A conversation has had a turn, so its runs and events routes have something to leak.
     */
    const FACTORIES: Record<string, (a: TestApp) => Promise<string>> = {
      '/v1/conversations': async (a) => (await turn(a)).conversation_id,
      '/v1/runs': async (a) => (await turn(a)).run_id,
      '/v1/tasks': async (a) =>
        (await a.request('POST', '/v1/tasks', { json: { agent_name: 'support', instruction: 'Say hello.' } }))
          .body.task_id,
      // Registering contacts the server; the row is what a registration leaves.
      '/v1/mcp-servers': async (a) => {
        const id = randomUUID();
        await db.query(`INSERT INTO mcp_servers (id, tenant_id, name, url) VALUES ($1, $2, $3, $4)`, [
          id,
          a.tenantId,
          `srv-${id.slice(0, 8)}`,
          'https://mcp.example.com/mcp',
        ]);
        return id;
      },
      '/v1/agents': async (a) => {
        const name = `only-a-${randomUUID().slice(0, 8)}`;
        const res = await a.request('POST', '/v1/agents', {
          key: a.adminKey,
          json: { name, description: 'A only.', system_prompt: 'Only for A.', tools: ['calculator'] },
        });
        expect(res.status).toBe(201);
        return name;
      },
    };
    const BODIES: Record<string, unknown> = {
      'POST /v1/runs/{id}/approvals': { decisions: [{ tool_use_id: 'toolu_01', approve: true }] },
    };
    const emptyConversation = async (a: TestApp): Promise<string> =>
      (await a.request('POST', '/v1/conversations', { json: { agent_name: 'support', title: 'A only' } }))
        .body.id;
    const collectionOf = (path: string) => path.replace(/\/\{[^}]+\}.*$/, '');
    const normalise = (body: any, ids: string[]) =>
      ids.reduce(
        (text, id) => text.split(id).join('<id>'),
        JSON.stringify({ ...body.error, request_id: '' }),
      );

    let b: TestApp;

    beforeAll(async () => {
      b = await startTestApp();
    });

    afterAll(async () => {
      await b.close();
    });

    it("answers tenant A's ids to tenant B's key exactly like missing ones, on every id-bearing route", async () => {
      const routes = operations.filter((op) => isV1(op) && !isAdmin(op) && op.params.length);
      expect(routes.map(label)).toEqual(
        expect.arrayContaining([
          'GET /v1/conversations/{id}',
          'GET /v1/conversations/{id}/runs',
          'GET /v1/conversations/{id}/events',
          'GET /v1/runs/{id}',
          'POST /v1/runs/{id}/cancel',
          'GET /v1/tasks/{id}/deliveries',
          'POST /v1/tasks/{id}/deliveries/redeliver',
          'GET /v1/mcp-servers/{id}',
          'GET /v1/agents/{name}',
        ]),
      );
      const missingFactories = routes.map((op) => collectionOf(op.path)).filter((c) => !FACTORIES[c]);
      expect(missingFactories).toEqual([]);
      const outcomes: Record<string, unknown> = {};
      const expected: Record<string, unknown> = {};
      for (const op of routes) {
        const aId = await FACTORIES[collectionOf(op.path)](t);
        const missingId = randomUUID();
        // A valid body where the route takes one, so that only the id can be what is refused.
        const json = op.method === 'POST' ? (BODIES[label(op)] ?? {}) : undefined;
        const foreign = await b.request(op.method, fill(op.path, aId), { json });
        const missing = await b.request(op.method, fill(op.path, missingId), { json });
        outcomes[label(op)] = [foreign.status, normalise(foreign.body, [aId])];
        expected[label(op)] = [404, normalise(missing.body, [missingId])];
        // Still there, untouched, for its own tenant.
        const own = await t.request('GET', fill(`${collectionOf(op.path)}/{id}`, aId));
        expect([label(op), own.status]).toEqual([label(op), 200]);
      }
      expect(outcomes).toEqual(expected);
    });

    it("does not list tenant A's conversations to tenant B", async () => {
      const aId = await FACTORIES['/v1/conversations'](t);
      const listed = await b.request('GET', '/v1/conversations?page_size=100');
      expect(listed.status).toBe(200);
      expect(listed.body.conversations.map((c: { id: string }) => c.id)).not.toContain(aId);
      expect((await t.request('GET', '/v1/conversations?page_size=100')).body.conversations).toEqual(
        expect.arrayContaining([expect.objectContaining({ id: aId })]),
      );
    });

    it("refuses a chat turn on tenant A's conversation with tenant B's key, as not found", async () => {
      const aId = await emptyConversation(t);
      const res = await b.request('POST', '/v1/chat', { json: { message: 'hi', conversation_id: aId } });
      expect(res.status).toBe(404);
      expect(res.body.error.type).toBe('not_found');
      expect((await t.request('GET', `/v1/conversations/${aId}`)).body.message_count).toBe(0);
    });

    it('takes the tenant from the key, not from anything the client sends', async () => {
      const created = await b.request('POST', '/v1/conversations', {
        json: { agent_name: 'support', metadata: { tenant: t.tenantId } },
        headers: { 'x-tenant-id': t.tenantId },
      });
      const [row] = await db.query(`SELECT tenant_id FROM conversations WHERE id = $1`, [created.body.id]);
      expect(row.tenant_id).toBe(b.tenantId);
    });
  });
});

describe('revocation across instances', () => {
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    a = await startTestApp();
    // A long cache on B: only the broadcast can make it forget the key this fast.
    b = await startTestApp({ API_KEY_CACHE_TTL_MS: '60000' });
  });

  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('refuses a revoked key within seconds on another instance that had it cached', async () => {
    const issued = (
      await a.request('POST', '/v1/admin/api-keys', {
        key: a.adminKey,
        json: { tenant: a.tenantId, role: 'user', name: 'cached elsewhere' },
      })
    ).body;
    expect((await b.request('GET', '/v1/agents', { key: issued.key })).status).toBe(200);
    expect((await a.request('DELETE', `/v1/admin/api-keys/${issued.id}`, { key: a.adminKey })).status).toBe(
      204,
    );
    const started = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - started < 3_000) {
      status = (await b.request('GET', '/v1/agents', { key: issued.key })).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 25));
    }
    expect(status).toBe(401);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
