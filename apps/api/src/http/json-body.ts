// Every request body is inspected once, generically, as soon as it is parsed and before any guard, pipe,
// transform or handler sees it, so no DTO has to remember that PostgreSQL refuses some text.
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import { ErrorDetail, ValidationError } from '@lib/core';

/** Deeper bodies are refused before any recursive code (class-transformer, class-validator, JSON columns) walks them. */
export const MAX_BODY_DEPTH = 64;

// A lone UTF-16 surrogate (no valid pair), or NUL: PostgreSQL stores neither in text or jsonb.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string cannot be stored as text, or null when it can. */
export function unstorableText(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain the NUL character (\\u0000)';
  if (LONE_SURROGATE.test(text)) return 'must not contain a lone UTF-16 surrogate (invalid Unicode)';
  return null;
}

const join = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));

/**
 * The problems of a parsed JSON value: nesting deeper than `maxDepth` (reported alone, nothing below it is
 * read), and every string value or object key that cannot be stored, by field path (`metadata.tags.0`).
 * Iterative, so a hostile depth cannot overflow the stack here.
 */
export function inspectJson(value: unknown, maxDepth = MAX_BODY_DEPTH): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: '', depth: 0 }];
  while (stack.length) {
    const { value: node, path, depth } = stack.pop()!;
    if (typeof node === 'string') {
      const problem = unstorableText(node);
      if (problem) details.push({ field: path || 'body', message: `${path || 'body'} ${problem}` });
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    if (depth >= maxDepth) {
      const field = path.split('.')[0] || 'body';
      return [{ field, message: `${field} is nested deeper than ${maxDepth} levels` }];
    }
    const entries: Array<[string | number, unknown]> = Array.isArray(node)
      ? node.map((item, index) => [index, item])
      : Object.entries(node);
    for (let i = entries.length - 1; i >= 0; i -= 1) {
      const [key, child] = entries[i];
      if (typeof key === 'string') {
        const problem = unstorableText(key);
        if (problem) {
          const field = path || 'body';
          details.push({ field, message: `a key of ${field} ${problem}` });
          continue;
        }
      }
      stack.push({ value: child, path: join(path, key), depth: depth + 1 });
    }
  }
  return details;
}

/**
 * Refuses (400 validation_error) a parsed body that is too deep or holds text that cannot be stored, and a
 * query string holding such text.
 */
export function assertAcceptableRequest(request: Pick<FastifyRequest, 'body' | 'query'>): void {
  const details = [...inspectJson(request.query), ...inspectJson(request.body)];
  if (!details.length) return;
  const deep = details.some((detail) => detail.message.includes('nested deeper'));
  throw new ValidationError(
    deep ? `The request body is nested deeper than ${MAX_BODY_DEPTH} levels.` : 'The request is invalid.',
    details,
  );
}

/** Inspects every parsed body and query string before the route's guards, pipes and handler run. */
export function inspectBodies(app: NestFastifyApplication): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('preValidation', (request: FastifyRequest, _reply, done) => {
      try {
        assertAcceptableRequest(request);
      } catch (refusal) {
        return done(refusal as Error);
      }
      done();
    });
}
