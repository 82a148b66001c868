// Fuzzing from the OpenAPI document: every route, driven with NUL bytes, lone surrogates, hostile nesting and
// huge numbers where it takes input, must answer 4xx with the contract's envelope — never 2xx, never 5xx.
import Ajv, { ValidateFunction } from 'ajv';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { startTestApp, TestApp } from './support/app';
import { apiOperations, fill, isAdmin, label, Operation } from './support/routes';

interface Parameter {
  name: string;
  in: 'query' | 'path' | 'header';
  schema?: { type?: string };
}

interface FuzzCase {
  op: Operation;
  path: string;
  query: string;
  body?: string;
}

const nest = (depth: number, leaf: string) => `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;

/** Strings PostgreSQL cannot store, as JSON text (JSON.stringify escapes a lone surrogate, the parser restores it). */
const hostileText = fc.oneof(
  fc.string({ maxLength: 20 }).map((s) => `${s}\u0000${s}`),
  fc.constantFrom('\uD800', 'a\uDC00b', 'end\uD83D', '\uDE00\uD83D'),
  fc.string({ maxLength: 20 }).map((s) => `${s}\uDBFF`),
);
const hugeNumber = fc.constantFrom(1e20, 1e300, -1e300, 2 ** 53 + 2, -(2 ** 63));
const hostileJsonValue = fc.oneof(
  hostileText.map((text) => JSON.stringify(text)),
  hugeNumber.map((n) => JSON.stringify(n)),
  fc.integer({ min: 65, max: 3_000 }).map((depth) => nest(depth, '1')),
  fc.integer({ min: 65, max: 3_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.constant('100000000000000000000'),
);
/** Query values as sent on the wire: NUL, UTF-8 of a surrogate (invalid), stray bytes, numbers no integer type holds. */
const hostileQueryText = fc.constantFrom('%00', 'a%00b', 'x%00%00', '%00%E4%B8%AD');
const hostileQueryString = fc.oneof(hostileQueryText, fc.constantFrom('%FF', '%ED%A0%80', '%C0%80'));
/** Hostile for a number; for a free-text parameter (a tenant id, say) `1e21` is just text. */
const hostileQueryValue = (numeric: boolean) =>
  numeric
    ? fc.oneof(
        hostileQueryString,
        fc.constantFrom('100000000000000000000', '1e300', '-1e300', '9007199254740993', '1e21'),
      )
    : hostileQueryString;
const pathValue = fc.oneof(
  fc.constant(null).map(() => randomUUID()),
  fc.constantFrom('%00', '%ED%A0%80', 'not-a-uuid', '1e300', `${'a'.repeat(200)}`),
);

function bodyProperties(document: any, operation: any): string[] {
  const schema = operation?.requestBody?.content?.['application/json']?.schema;
  if (!schema) return [];
  const resolved = schema.$ref ? document.components.schemas[schema.$ref.split('/').pop()] : schema;
  return Object.keys(resolved?.properties ?? {});
}

/** One hostile request for an operation: at least one hostile value where the operation reads input. */
function caseFor(document: any, op: Operation): fc.Arbitrary<FuzzCase> {
  const operation = document.paths[op.path][op.method.toLowerCase()];
  const parameters: Parameter[] = operation.parameters ?? [];
  const queryParams = parameters.filter((p) => p.in === 'query');
  const queryNames = queryParams.map((p) => p.name);
  const free = new Set(queryParams.filter((p) => p.schema?.type === 'string').map((p) => p.name));
  const properties = bodyProperties(document, operation);
  const hasBody = op.method !== 'GET' && op.method !== 'DELETE' && operation.requestBody;

  const path = fc
    .array(pathValue, { minLength: op.params.length, maxLength: op.params.length })
    .map((values) => values.reduce((p, value) => p.replace(/\{[^}]+\}/, value), op.path));
  // A declared parameter gets any hostile value; a route without one still has its query string read, and
  // refuses text that cannot be stored there (an unknown parameter's number is ignored, as REST APIs do).
  const query = (
    queryNames.length
      ? fc
          .subarray(queryNames, { minLength: 1 })
          .chain((names) =>
            fc.tuple(...names.map((name) => hostileQueryValue(!free.has(name)).map((v) => `${name}=${v}`))),
          )
      : hostileQueryText.map((v) => [`q=${v}`])
  ).map((pairs) => `?${pairs.join('&')}`);
  const body = fc
    .tuple(
      fc.constantFrom(...(properties.length ? properties : ['field']), 'metadata', 'extra'),
      hostileJsonValue,
    )
    .map(([field, value]) => {
      const rest = properties.filter((p) => p !== field).map((p) => `${JSON.stringify(p)}:"x"`);
      return `{${[...rest, `${JSON.stringify(field)}:${value}`].join(',')}}`;
    });

  if (hasBody) {
    return fc.record({
      op: fc.constant(op),
      path,
      query: fc.oneof(fc.constant(''), query),
      body: fc.oneof(body, hostileJsonValue),
    });
  }
  return fc.record({ op: fc.constant(op), path, query });
}

describe('fuzzing every route of the OpenAPI document', () => {
  let t: TestApp;
  let operations: Operation[];
  let document: any;
  let isEnvelope: ValidateFunction;

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_REQUESTS: '0' });
    operations = await apiOperations(t);
    document = (await t.request('GET', '/docs-json', { key: null })).body;
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addSchema({ $id: 'openapi', components: document.components });
    isEnvelope = ajv.compile({
      $ref: 'openapi#/components/schemas/ErrorEnvelopeDto',
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it('finds the routes it fuzzes in the document', () => {
    expect(operations.length).toBeGreaterThanOrEqual(15);
    expect(operations.map(label)).toEqual(
      expect.arrayContaining(['POST /v1/chat', 'POST /v1/conversations']),
    );
  });

  it('answers every hostile request with 4xx and the envelope', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...operations).chain((op) => caseFor(document, op)),
        async ({ op, path, query, body }) => {
          seen.add(label(op));
          const res = await fetch(`${t.url}${path}${query}`, {
            method: op.method,
            headers: {
              authorization: `Bearer ${isAdmin(op) ? t.adminKey : t.userKey}`,
              ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            },
            body,
          });
          const text = await res.text();
          const summary = `${op.method} ${path}${query} ${body?.slice(0, 120) ?? ''} → ${res.status} ${text.slice(0, 300)}`;
          if (res.status < 400 || res.status >= 500) throw new Error(summary);
          const parsed = JSON.parse(text) as { error: { request_id: string } };
          if (!isEnvelope(parsed)) throw new Error(`not the envelope: ${summary}`);
          if (
            (parsed as { error: { request_id: string } }).error.request_id !== res.headers.get('x-request-id')
          )
            throw new Error(`request id: ${summary}`);
        },
      ),
      { numRuns: 250, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000), endOnFailure: true },
    );
    // The run reached (nearly) every route: it would take bad luck to miss one with 250 runs.
    expect(seen.size).toBeGreaterThanOrEqual(Math.min(operations.length, 12));
  }, 30_000);

  it('answers a hostile body on every route that takes one with 400 validation_error', async () => {
    for (const op of operations.filter((o) => ['POST', 'PUT', 'PATCH'].includes(o.method))) {
      const res = await fetch(`${t.url}${fill(op.path, randomUUID())}`, {
        method: op.method,
        headers: {
          authorization: `Bearer ${isAdmin(op) ? t.adminKey : t.userKey}`,
          'content-type': 'application/json',
        },
        body: `{"metadata":${nest(100, '"\\u0000"')}}`,
      });
      expect([label(op), res.status]).toEqual([label(op), 400]);
    }
  });
});
