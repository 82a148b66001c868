// The routes of the running app, read from its OpenAPI document, so table-driven tests cover routes added later.
import type { TestApp } from './app';

export interface Operation {
  method: string;
  /** The OpenAPI path, e.g. `/v1/conversations/{id}`. */
  path: string;
  /** Path parameters, in order. */
  params: string[];
  security: unknown[] | undefined;
  responses: Record<string, unknown>;
  /** `admin` for a route only admin keys may call (the `x-required-role` extension). */
  requiredRole: string | undefined;
}

export async function apiOperations(t: TestApp): Promise<Operation[]> {
  const res = await t.request('GET', '/docs-json', { key: null });
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries<Record<string, any>>(res.body.paths)) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
      const operation = item[method];
      if (!operation) continue;
      operations.push({
        method: method.toUpperCase(),
        path,
        params: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]),
        security: operation.security,
        responses: operation.responses,
        requiredRole: operation['x-required-role'],
      });
    }
  }
  return operations;
}

/** The path with every parameter replaced by `id`. */
export function fill(path: string, id: string): string {
  return path.replace(/\{[^}]+\}/g, id);
}

export const isV1 = (op: Operation): boolean => op.path.startsWith('/v1/');
export const isAdmin = (op: Operation): boolean =>
  op.path.startsWith('/v1/admin/') || op.requiredRole === 'admin';
export const label = (op: Operation): string => `${op.method} ${op.path}`;
