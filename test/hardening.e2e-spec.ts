// Hardening: security headers, CORS from an allow-list, body limits, malformed input, UUID ids, and nothing internal
// (stack, SQL, secrets) in any response or log line.
import { randomUUID } from 'node:crypto';
import { startTestApp, TestApp } from './support/app';
import { apiOperations, fill, isAdmin, isV1, label, Operation } from './support/routes';

const LEAK =
  /\bat .+\.(?:js|ts):\d+|node_modules|QueryFailed|SELECT |INSERT |UPDATE |DELETE FROM|syntax error|violates|relation "|pg_|TypeError|ReferenceError|ak_live_[0-9A-Za-z]{12}/;

describe('hardening', () => {
  let t: TestApp;
  let operations: Operation[];

  beforeAll(async () => {
    t = await startTestApp();
    operations = await apiOperations(t);
  });

  afterAll(async () => {
    await t.close();
  });

  const keyFor = (op: Operation) => (isAdmin(op) ? t.adminKey : t.userKey);

  describe('security headers (helmet)', () => {
    it('sends them on API answers and errors', async () => {
      for (const [path, key] of [
        ['/v1/agents', t.userKey],
        ['/v1/agents', null],
        ['/health/live', null],
      ] as const) {
        const res = await t.request('GET', path, { key });
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
        expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
        expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
        expect(res.headers.get('content-security-policy')).not.toContain('upgrade-insecure-requests');
        expect(res.headers.get('x-powered-by')).toBeNull();
      }
    });

    it('keeps Swagger UI working under the policy: it loads only its own scripts, none inline', async () => {
      const page = await fetch(`${t.url}/docs`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      const html = await page.text();
      const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThanOrEqual(3);
      for (const [, attributes, body] of scripts) {
        expect(body.trim()).toBe('');
        const src = /src=["']([^"']+)["']/.exec(attributes)?.[1];
        expect(src).toBeDefined();
        const url = new URL(src!, `${t.url}/docs`);
        expect(url.origin).toBe(new URL(t.url).origin);
        const script = await fetch(url);
        expect([src, script.status]).toEqual([src, 200]);
      }
    });
  });

  describe('CORS', () => {
    const preflight = (app: TestApp, origin: string) =>
      fetch(`${app.url}/v1/chat`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      });

    it('sends no CORS headers at all while CORS_ORIGINS is empty', async () => {
      const res = await t.request('GET', '/v1/agents', { headers: { origin: 'https://evil.example' } });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('allows the listed origins only, without credentials unless asked', async () => {
      const app = await startTestApp({ CORS_ORIGINS: 'https://app.example.com, https://admin.example.com' });
      try {
        const allowed = await preflight(app, 'https://admin.example.com');
        expect(allowed.status).toBeLessThan(300);
        expect(allowed.headers.get('access-control-allow-origin')).toBe('https://admin.example.com');
        expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
        expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
        const refused = await preflight(app, 'https://evil.example');
        expect(refused.headers.get('access-control-allow-origin')).toBeNull();
        const simple = await app.request('GET', '/v1/agents', {
          headers: { origin: 'https://app.example.com' },
        });
        expect(simple.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
        expect(simple.headers.get('access-control-expose-headers')).toContain('X-Request-ID');
      } finally {
        await app.close();
      }
    });

    it('answers any origin with "*" and never with credentials', async () => {
      const app = await startTestApp({ CORS_ORIGINS: '*' });
      try {
        const res = await preflight(app, 'https://anywhere.example');
        expect(res.headers.get('access-control-allow-origin')).toBe('*');
        expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      } finally {
        await app.close();
      }
    });

    it('refuses to start with "*" together with credentials', async () => {
      await expect(startTestApp({ CORS_ORIGINS: '*', CORS_ALLOW_CREDENTIALS: 'true' })).rejects.toThrow(
        /^CORS_ALLOW_CREDENTIALS must be false while CORS_ORIGINS is "\*"/,
      );
    });
  });

  describe('malformed requests', () => {
    it('answers 413 payload_too_large over the body limit, on a route behind the key', async () => {
      const small = await startTestApp({ BODY_LIMIT_BYTES: '2048' });
      try {
        const res = await small.request('POST', '/v1/conversations', {
          json: { agent_name: 'support', title: 'x'.repeat(4096) },
        });
        expect(res.status).toBe(413);
        expect(res.body.error.type).toBe('payload_too_large');
      } finally {
        await small.close();
      }
    });

    it('answers 400 validation_error to malformed JSON on every /v1 route that takes a body', async () => {
      const bodied = operations.filter((op) => isV1(op) && op.method === 'POST');
      expect(bodied.length).toBeGreaterThan(3);
      for (const op of bodied) {
        const res = await t.request(op.method, fill(op.path, randomUUID()), {
          key: keyFor(op),
          raw: '{"message": "unterminated',
        });
        expect([label(op), res.status, res.body.error?.type]).toEqual([label(op), 400, 'validation_error']);
        expect(res.body.error.message).toBe('The request body is not valid JSON.');
      }
    });

    it('answers 400 to a path id that is not a UUID on every id-bearing route, never a database error', async () => {
      // Ids are UUIDs; a route keyed by a name (`/v1/agents/{name}`) answers 404 for an unknown one instead.
      const routes = operations.filter((op) => isV1(op) && op.params.includes('id'));
      expect(routes.length).toBeGreaterThanOrEqual(3);
      for (const id of ['not-a-uuid', '1', "1' OR '1'='1", '00000000-0000-0000-0000-00000000000g']) {
        for (const op of routes) {
          const res = await t.request(op.method, fill(op.path, encodeURIComponent(id)), { key: keyFor(op) });
          expect([label(op), id, res.status, res.body.error?.type]).toEqual([
            label(op),
            id,
            400,
            'validation_error',
          ]);
          expect(res.body.error.details).toEqual([expect.objectContaining({ message: 'must be a UUID' })]);
        }
      }
    });
  });

  describe('nothing internal in any answer', () => {
    const NASTY: Array<{ name: string; raw?: string; json?: unknown; query?: string }> = [
      { name: 'malformed JSON', raw: '{"a":' },
      { name: 'a JSON string', raw: '"just a string"' },
      { name: 'null', raw: 'null' },
      { name: 'wrong types', json: { message: 1, agent_name: [], conversation_id: {}, instruction: 5 } },
      {
        name: 'SQL in fields',
        json: { message: "'; DROP TABLE conversations; --", agent_name: "x' OR 1=1 --" },
      },
      {
        name: 'prototype pollution',
        raw: '{"__proto__": {"admin": true}, "constructor": {"prototype": {}}}',
      },
      { name: 'huge numbers', json: { page: 1e308, temperature: 1e308, max_iterations: -1e308 } },
      { name: 'SQL in the query', query: "?page=1'%20OR%201=1--&page_size=-1&status='" },
      { name: 'control characters', json: { message: '\u0000\u0001\ud800', title: '\u0000' } },
    ];

    it('answers every route and nasty input with the envelope: no stack, SQL, internals or keys', async () => {
      const bad: string[] = [];
      for (const op of operations.filter(isV1)) {
        for (const input of NASTY) {
          const path = fill(op.path, randomUUID()) + (input.query ?? '');
          const res = await t.request(op.method, path, {
            key: keyFor(op),
            raw: op.method === 'POST' ? input.raw : undefined,
            json: op.method === 'POST' ? input.json : undefined,
          });
          const text = JSON.stringify(res.body);
          if (res.status >= 500 || LEAK.test(text))
            bad.push(`${label(op)} ${input.name}: ${res.status} ${text}`);
          if (res.status >= 400 && !res.body?.error?.type)
            bad.push(`${label(op)} ${input.name}: no envelope ${text}`);
        }
      }
      expect(bad).toEqual([]);
      // Every route times every input: more than the default 5 s on a busy machine.
    }, 30_000);
  });
});
