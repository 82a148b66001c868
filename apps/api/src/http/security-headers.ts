// helmet's security headers (CSP, HSTS, X-Content-Type-Options, …) for every reply. The headers depend only on the
// options, so helmet runs once at boot against a recording response, and each request gets the recorded set:
// @fastify/helmet built a new helmet middleware (and parsed the CSP directives) on every request.
import type { FastifyInstance } from 'fastify';
import helmet, { HelmetOptions } from 'helmet';

export interface SecurityHeaders {
  set: Record<string, string>;
  removed: string[];
}

/** What helmet does to a response with these options: the headers it sets and those it removes. */
export function securityHeaders(options: Readonly<HelmetOptions>): SecurityHeaders {
  const set: Record<string, string> = {};
  const removed: string[] = [];
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      set[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      removed.push(name.toLowerCase());
      delete set[name.toLowerCase()];
    },
  };
  let failure: unknown;
  helmet(options)({} as never, response as never, (error?: unknown) => {
    failure = error;
  });
  if (failure) throw failure;
  return { set, removed };
}

/** Puts the headers on every reply, before any handler runs (so streamed replies carry them too). */
export function registerSecurityHeaders(fastify: FastifyInstance, options: Readonly<HelmetOptions>): void {
  const { set, removed } = securityHeaders(options);
  fastify.addHook('onRequest', (_request, reply, done) => {
    reply.headers(set);
    for (const name of removed) reply.removeHeader(name);
    done();
  });
}
