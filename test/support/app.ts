// Boots the real API (Fastify, PostgreSQL, Redis) on a loopback port for one e2e file, under a tenant of its own.
import { randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../../apps/api/src/bootstrap';
import { openTestDataSource } from './database';
import { testEnv } from './test-env';

export interface TestApp {
  app: NestFastifyApplication;
  url: string;
  tenantId: string;
  close(): Promise<void>;
}

export async function startTestApp(overrides: Record<string, string | undefined> = {}): Promise<TestApp> {
  const tenantId = `test-${randomUUID()}`;
  const app = await createApp({ env: testEnv({ DEFAULT_TENANT: tenantId, ...overrides }) });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    app,
    url,
    tenantId,
    close: async () => {
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
  } finally {
    await dataSource.destroy();
  }
}

export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A real HTTP request with a JSON (or raw) body; the answer parsed when it is JSON. */
export async function request<T = any>(
  base: string,
  method: string,
  path: string,
  options: { json?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
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
