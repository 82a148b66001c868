// The HTTP surface that does not need the model: validation, errors, headers, pagination, docs and health.
import { randomUUID } from 'node:crypto';
import Ajv from 'ajv';
import { startTestApp, TestApp } from './support/app';

describe('REST API surface', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  describe('POST /v1/chat validation', () => {
    it.each([
      ['a missing message', {}, 'message'],
      ['an empty message', { message: '' }, 'message'],
      ['a blank message', { message: '   ' }, 'message'],
      ['a message over 10,000 characters', { message: 'x'.repeat(10_001) }, 'message'],
      ['a message that is not a string', { message: 42 }, 'message'],
      ['a conversation_id that is not a UUID', { message: 'hi', conversation_id: 'abc' }, 'conversation_id'],
      ['an unknown agent_name', { message: 'hi', agent_name: 'nobody' }, 'agent_name'],
      ['an unknown field', { message: 'hi', model: 'claude' }, 'model'],
    ])('answers 400 validation_error naming the field for %s', async (_case, body, field) => {
      const res = await t.request('POST', '/v1/chat', { json: body });
      expect(res.status).toBe(400);
      expect(res.body.error.type).toBe('validation_error');
      expect(res.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
      expect(res.body.error.request_id).toBe(res.headers.get('x-request-id'));
    });

    it('gives one detail per field when several fields are wrong', async () => {
      const res = await t.request('POST', '/v1/chat', { json: { message: '', conversation_id: 'x' } });
      expect(res.status).toBe(400);
      const fields = res.body.error.details.map((d: { field: string }) => d.field).sort();
      expect(fields).toEqual(['conversation_id', 'message']);
    });

    it('answers 400 validation_error for malformed JSON', async () => {
      const res = await t.request('POST', '/v1/chat', { raw: '{"message": "hi"' });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({
        type: 'validation_error',
        message: 'The request body is not valid JSON.',
      });
    });

    it('answers 400 when the body is a JSON array instead of an object', async () => {
      const res = await t.request('POST', '/v1/chat', { json: [{ message: 'hi' }] });
      expect(res.status).toBe(400);
      expect(res.body.error.type).toBe('validation_error');
    });

    it('answers 413 payload_too_large for a body over the limit', async () => {
      const res = await t.request('POST', '/v1/conversations', {
        json: { agent_name: 'support', title: 'x'.repeat(2_000_000) },
      });
      expect(res.status).toBe(413);
      expect(res.body.error.type).toBe('payload_too_large');
    });

    it('takes message bodies up to MESSAGE_BODY_LIMIT_BYTES (images and PDFs), and answers 413 past it', async () => {
      // Over BODY_LIMIT_BYTES but within the message routes' own limit: refused by the message checks, not by size.
      const big = await t.request('POST', '/v1/chat', { json: { message: 'x'.repeat(2_000_000) } });
      expect(big.status).toBe(400);
      expect(big.body.error.type).toBe('validation_error');
      const res = await t.request('POST', '/v1/chat', { json: { message: 'x'.repeat(17_000_000) } });
      expect(res.status).toBe(413);
      expect(res.body.error.type).toBe('payload_too_large');
    });

    it('answers 404 not_found for an unknown conversation id', async () => {
      const res = await t.request('POST', '/v1/chat', {
        json: { message: 'hi', conversation_id: randomUUID() },
      });
      expect(res.status).toBe(404);
      expect(res.body.error.type).toBe('not_found');
    });
  });

  describe('errors and headers', () => {
    it('answers an unknown route with the not_found envelope', async () => {
      const res = await t.request('GET', '/v1/nothing-here');
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ type: 'not_found', message: 'No route GET /v1/nothing-here.' });
    });

    it('keeps a valid incoming X-Request-ID and reports the response time', async () => {
      const res = await t.request('GET', '/v1/agents', { headers: { 'x-request-id': 'client-req-42' } });
      expect(res.headers.get('x-request-id')).toBe('client-req-42');
      expect(res.headers.get('x-response-time')).toMatch(/^\d+(\.\d+)?ms$/);
    });

    it('replaces a malformed X-Request-ID with a new UUID', async () => {
      const res = await t.request('GET', '/v1/agents', {
        headers: { 'x-request-id': 'bad id with spaces' },
      });
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('answers a non-UUID path id with 400, never a database error', async () => {
      const res = await t.request('GET', '/v1/conversations/not-a-uuid');
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({
        type: 'validation_error',
        details: [{ field: 'id', message: 'must be a UUID' }],
      });
    });
  });

  describe('conversations', () => {
    it('creates a conversation with overrides and reads it back empty', async () => {
      const created = await t.request('POST', '/v1/conversations', {
        json: {
          agent_name: 'sales',
          title: 'Quote for ACME',
          temperature: 0.1,
          max_iterations: 3,
          metadata: { crm: 'x1' },
        },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        agent_name: 'sales',
        title: 'Quote for ACME',
        message_count: 0,
        status: 'active',
        total_tokens: 0,
        cost_usd: 0,
        last_message_at: null,
      });
      const read = await t.request('GET', `/v1/conversations/${created.body.id}`);
      expect(read.status).toBe(200);
      expect(read.body.messages).toEqual([]);
    });

    it.each([
      [{ agent_name: 'ghost' }, 'agent_name'],
      [{ agent_name: 'support', temperature: 2 }, 'temperature'],
      [{ agent_name: 'support', max_iterations: 0 }, 'max_iterations'],
      [{ agent_name: 'support', metadata: 'not an object' }, 'metadata'],
      [{}, 'agent_name'],
    ])('refuses %j with a detail on %s', async (body, field) => {
      const res = await t.request('POST', '/v1/conversations', { json: body });
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    });

    it('paginates the list, newest activity first, with the total', async () => {
      const own = await startTestApp();
      try {
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          const res = await own.request('POST', '/v1/conversations', {
            json: { agent_name: 'support', title: `c${i}` },
          });
          ids.push(res.body.id);
        }
        const first = await own.request('GET', '/v1/conversations?page=1&page_size=2');
        const third = await own.request('GET', '/v1/conversations?page=3&page_size=2');
        expect(first.body).toMatchObject({ total: 5, page: 1, page_size: 2 });
        expect(first.body.conversations.map((c: { id: string }) => c.id)).toEqual([ids[4], ids[3]]);
        expect(third.body.conversations.map((c: { id: string }) => c.id)).toEqual([ids[0]]);
        const defaults = await own.request('GET', '/v1/conversations');
        expect(defaults.body).toMatchObject({ page: 1, page_size: 20, total: 5 });
      } finally {
        await own.close();
      }
    });

    it.each(['page=0', 'page=abc', 'page_size=101', 'page_size=0', 'page=1.5', 'sort=asc'])(
      'answers 400 for the bad query %s',
      async (query) => {
        const res = await t.request('GET', `/v1/conversations?${query}`);
        expect(res.status).toBe(400);
        expect(res.body.error.type).toBe('validation_error');
      },
    );

    it('deletes a conversation, then answers 404 for it', async () => {
      const created = await t.request('POST', '/v1/conversations', { json: { agent_name: 'support' } });
      const removed = await t.request('DELETE', `/v1/conversations/${created.body.id}`);
      expect(removed.status).toBe(204);
      expect((await t.request('GET', `/v1/conversations/${created.body.id}`)).status).toBe(404);
      expect((await t.request('DELETE', `/v1/conversations/${created.body.id}`)).status).toBe(404);
    });
  });

  describe('catalog', () => {
    it('lists the built-in agents with their tools and the offline model', async () => {
      const res = await t.request('GET', '/v1/agents');
      expect(res.status).toBe(200);
      expect(res.body.map((a: { name: string }) => a.name)).toEqual(['sales', 'support']);
      const support = res.body.find((a: { name: string }) => a.name === 'support');
      expect(support).toMatchObject({
        model: 'offline-demo',
        // Not sent to the model (the provider API version refuses sampling parameters): said as it is.
        temperature: null,
        max_iterations: expect.any(Number),
      });
      expect(support.tools).toContain('lookup_order');
    });

    it('lists every built-in tool with its JSON-schema input', async () => {
      const res = await t.request('GET', '/v1/tools');
      expect(res.body.map((tool: { name: string }) => tool.name).sort()).toEqual([
        'calculator',
        'create_support_ticket',
        'get_current_time',
        'get_pricing',
        'get_product_catalog',
        'lookup_order',
        'search_knowledge_base',
      ]);
      for (const tool of res.body) expect(tool.input_schema).toMatchObject({ type: 'object' });
    });
  });

  describe('docs and health', () => {
    it('serves an OpenAPI document with every route, body and error envelope', async () => {
      const res = await t.request('GET', '/docs-json');
      expect(res.status).toBe(200);
      const paths = res.body.paths;
      expect(Object.keys(paths).sort()).toEqual(
        expect.arrayContaining([
          '/v1/chat',
          '/v1/conversations',
          '/v1/conversations/{id}',
          '/v1/agents',
          '/v1/tools',
          '/health/live',
          '/health/ready',
        ]),
      );
      expect(paths['/v1/chat'].post.requestBody.content['application/json'].schema.$ref).toContain(
        'ChatRequestDto',
      );
      expect(paths['/v1/chat'].post.responses['400'].content['application/json'].schema.$ref).toContain(
        'ErrorEnvelopeDto',
      );
      expect(res.body.components.schemas.ChatResponseDto.properties).toHaveProperty('tools_used');
    });

    it('documents the Idempotency-Key header of POST /v1/chat once, as optional', async () => {
      const doc = (await t.request('GET', '/docs-json', { key: null })).body;
      const headers = doc.paths['/v1/chat'].post.parameters.filter((p: { in: string }) => p.in === 'header');
      expect(headers).toEqual([
        expect.objectContaining({ name: 'Idempotency-Key', required: false, schema: { type: 'string' } }),
      ]);
    });

    it('documents only the 200 answer of /v1/chat/stream as an event stream, and its errors as JSON envelopes', async () => {
      const doc = (await t.request('GET', '/docs-json', { key: null })).body;
      const responses: Record<string, { content: Record<string, { schema: { $ref?: string } }> }> =
        doc.paths['/v1/chat/stream'].post.responses;
      expect(Object.keys(responses['200'].content)).toEqual(['text/event-stream']);
      const errors = Object.entries(responses).filter(([status]) => status !== '200');
      expect(errors.map(([status]) => status)).toEqual(expect.arrayContaining(['400', '404', '409', '503']));
      for (const [, response] of errors) {
        expect(Object.keys(response.content)).toEqual(['application/json']);
        expect(response.content['application/json'].schema.$ref).toBe(
          '#/components/schemas/ErrorEnvelopeDto',
        );
      }
    });

    it('documents the health answers with schemas that the live answers match', async () => {
      const doc = (await t.request('GET', '/docs-json', { key: null })).body;
      const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
      ajv.addSchema(doc, 'openapi');
      for (const [path, schema] of [
        ['/health/live', 'HealthLiveDto'],
        ['/health/ready', 'HealthReadyDto'],
      ]) {
        const documented = doc.paths[path].get.responses['200'].content['application/json'].schema;
        expect(documented.$ref).toBe(`#/components/schemas/${schema}`);
        const validate = ajv.compile({ $ref: `openapi#/components/schemas/${schema}` });
        const answer = await t.request('GET', path, { key: null });
        expect(answer.status).toBe(200);
        expect({ path, valid: validate(answer.body), errors: validate.errors ?? null }).toEqual({
          path,
          valid: true,
          errors: null,
        });
      }
      expect(doc.components.schemas.HealthReadyDto.required).toEqual(
        expect.arrayContaining(['status', 'info', 'error', 'details']),
      );
    });

    it('serves Swagger UI at /docs', async () => {
      const res = await fetch(`${t.url}/docs`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('swagger');
    });

    it('reports live and ready while PostgreSQL and Redis answer', async () => {
      expect((await t.request('GET', '/health/live')).body).toEqual({ status: 'ok' });
      const ready = await t.request('GET', '/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.info).toMatchObject({ database: { status: 'up' }, redis: { status: 'up' } });
    });

    it('answers 503 service_unavailable from /health/ready when Redis is down', async () => {
      const broken = await startTestApp({ REDIS_URL: 'redis://127.0.0.1:1' });
      try {
        const ready = await broken.request('GET', '/health/ready');
        expect(ready.status).toBe(503);
        expect(ready.body.error.type).toBe('service_unavailable');
        expect(ready.body.error.details).toEqual([expect.objectContaining({ field: 'redis' })]);
      } finally {
        await broken.close();
      }
    });
  });
});
