// Boots the real API (Fastify, PostgreSQL, Redis) on a loopback port for one e2e file, under a tenant of its own
// with a user key and an admin key of that tenant.
import { randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DestinationStream } from 'pino';
import { ApiKeyService } from '@lib/auth';
import { createApp } from '../../apps/api/src/bootstrap';
import { openTestDataSource } from './database';
import { testEnv } from './test-env';

export interface TestApp {
  app: NestFastifyApplication;
  url: string;
  tenantId: string;
  /** A `user` key of the tenant: what `request` sends unless told otherwise. */
  userKey: string;
  userKeyId: string;
  /** An `admin` key of the tenant. */
  adminKey: string;
  adminKeyId: string;
  /** A request to this app with the user key; `key` sends another one, `key: null` none. */
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<JsonResponse<T>>;
  close(): Promise<void>;
}

/** The user key of every running test app, by URL, so a plain `request(t.url, …)` is authenticated too. */
const defaultKeys = new Map<string, string>();

export interface TestAppOptions {
  /** Where the app's JSON log lines go (give LOG_LEVEL too: tests log nothing by default). */
  logDestination?: DestinationStream;
}

export async function startTestApp(
  overrides: Record<string, string | undefined> = {},
  options: TestAppOptions = {},
): Promise<TestApp> {
  const tenantId = `test-${randomUUID()}`;
  const app = await createApp({
    env: testEnv({ DEFAULT_TENANT: tenantId, ...overrides }),
    logDestination: options.logDestination,
  });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const keys = app.get(ApiKeyService);
  const user = await keys.create({ tenant: tenantId, role: 'user', name: 'e2e user' });
  const admin = await keys.create({ tenant: tenantId, role: 'admin', name: 'e2e admin' });
  defaultKeys.set(url, user.key);
  return {
    app,
    url,
    tenantId,
    userKey: user.key,
    userKeyId: user.id,
    adminKey: admin.key,
    adminKeyId: admin.id,
    request: (method, path, requestOptions) => request(url, method, path, requestOptions),
    close: async () => {
      defaultKeys.delete(url);
      await app.close();
      await removeTenantData(tenantId);
    },
  };
}

/** Deletes what a test tenant wrote, so e2e files never see each other's rows. */
export async function removeTenantData(tenantId: string): Promise<void> {
  const dataSource = await openTestDataSource();
  try {
    await dataSource.query(`DELETE FROM llm_calls WHERE tenant_id = $1`, [tenantId]);
    await dataSource.query(`DELETE FROM conversations WHERE tenant_id = $1`, [tenantId]);
    await dataSource.query(`DELETE FROM idempotency_keys WHERE tenant_id = $1`, [tenantId]);
    await dataSource.query(`DELETE FROM support_tickets WHERE tenant_id = $1`, [tenantId]);
    await dataSource.query(`DELETE FROM webhook_deliveries WHERE tenant_id = $1`, [tenantId]);
    await dataSource.query(`DELETE FROM webhook_outbox WHERE tenant_id = $1`, [tenantId]);
    await dataSource.query(`DELETE FROM support_ticket_counters WHERE tenant_id = $1`, [tenantId]);
    for (const table of ['kb_articles', 'products', 'pricing_plans', 'orders', 'demo_data_tenants']) {
      await dataSource.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [tenantId]);
    }
    await dataSource.query(`DELETE FROM tasks WHERE tenant_id = $1`, [tenantId]);
    await dataSource.query(`DELETE FROM agents WHERE tenant_id = $1`, [tenantId]);
    await dataSource.query(`DELETE FROM api_keys WHERE tenant_id = $1`, [tenantId]);
  } finally {
    await dataSource.destroy();
  }
}

export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RequestOptions {
  json?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  /** The API key to send as `Authorization: Bearer`; by default the app's user key, `null` sends none. */
  key?: string | null;
}

/** A real HTTP request with a JSON (or raw) body; the answer parsed when it is JSON. */
export async function request<T = any>(
  base: string,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = {};
  const key = options.key === undefined ? defaultKeys.get(base) : options.key;
  if (key !== null && key !== undefined) headers.authorization = `Bearer ${key}`;
  Object.assign(headers, options.headers);
  let body: string | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.raw !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = options.raw;
  }
  const response = await fetch(`${base}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  if ((response.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
  return { status: response.status, headers: response.headers, body: parsed as T };
}
