// What a log line is about, carried through async calls: set where work enters the process (an HTTP request, a
// socket event, a queue job) and enriched as it becomes known (tenant, conversation, task). The logger's mixin
// writes it on every line, together with the active trace and span ids.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface LogFields {
  request_id?: string;
  tenant_id?: string;
  conversation_id?: string;
  task_id?: string;
  /** The Socket.IO connection an event came from. */
  socket_id?: string;
  /** The Socket.IO event being handled, or the queue a job came from. */
  event?: string;
  job_id?: string;
  /** The request's trace (kept for lines written outside its async context; the active span wins). */
  trace_id?: string;
}

const storage = new AsyncLocalStorage<LogFields>();
const OF_REQUEST = Symbol('log fields of a request');

export const LogContext = {
  /**
   * Runs `fn` with a context of its own: the enclosing context's fields, then `fields`. Later `assign` calls
   * inside `fn` (and what it awaits) change this context only.
   */
  run<T>(fields: LogFields, fn: () => T): T {
    return storage.run({ ...storage.getStore(), ...withoutUndefined(fields) }, fn);
  },

  /** Adds what has become known to the current context; nothing happens outside one. */
  assign(fields: LogFields): void {
    const store = storage.getStore();
    if (store) Object.assign(store, withoutUndefined(fields));
  },

  /** The current context's fields (a copy), or undefined outside one. */
  current(): LogFields | undefined {
    const store = storage.getStore();
    return store ? { ...store } : undefined;
  },

  /**
   * Keeps the current context on an HTTP request, for the line pino-http writes when the response has gone
   * (outside the request's async context).
   */
  attach(request: object): void {
    const store = storage.getStore();
    if (store) (request as Record<symbol, LogFields>)[OF_REQUEST] = store;
  },

  /** The context `attach` kept on a request. */
  of(request: object): LogFields | undefined {
    return (request as Record<symbol, LogFields | undefined>)[OF_REQUEST];
  },

  /** @internal the live store, read by the logger's mixin on every line without copying. */
  store(): LogFields | undefined {
    return storage.getStore();
  },
};

function withoutUndefined(fields: LogFields): LogFields {
  const defined: LogFields = {};
  for (const [key, value] of Object.entries(fields) as Array<[keyof LogFields, string | undefined]>) {
    if (value !== undefined && value !== null) defined[key] = value;
  }
  return defined;
}
