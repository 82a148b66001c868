// The operational metrics, named in one place so that the README's table, dashboards and the code agree. Each
// accessor returns the process registry's instance (created on first use), so call sites just observe.
import type { Counter, Gauge, Histogram } from 'prom-client';
import { Metrics } from './metrics';

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const MODEL_CALL_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300];
const FIRST_TOKEN_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];
const TOOL_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const TASK_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export type TokenKind = 'input' | 'output' | 'cache_write' | 'cache_read';

/** Every HTTP request, by route template (`/v1/conversations/:id`, never the raw URL) and status code. */
export const httpRequestDuration = (m: Metrics): Histogram<'method' | 'route' | 'status_code'> =>
  m.histogram(
    'http_request_duration_seconds',
    'HTTP requests by method, route template and status code.',
    ['method', 'route', 'status_code'],
    HTTP_BUCKETS,
  );

export const socketConnections = (m: Metrics): Gauge =>
  m.gauge('socketio_connections', 'Open Socket.IO connections on this instance.');

/** One model call (a streamed Messages API request, retries included), by outcome: `ok` or the error kind. */
export const llmCallDuration = (m: Metrics): Histogram<'agent' | 'model' | 'outcome'> =>
  m.histogram(
    'llm_call_duration_seconds',
    'Model calls from request to final message, by agent, model and outcome (ok or the error kind).',
    ['agent', 'model', 'outcome'],
    MODEL_CALL_BUCKETS,
  );

export const llmTimeToFirstToken = (m: Metrics): Histogram<'agent' | 'model'> =>
  m.histogram(
    'llm_time_to_first_token_seconds',
    'Time from a model request to its first streamed delta, by agent and model.',
    ['agent', 'model'],
    FIRST_TOKEN_BUCKETS,
  );

export const llmTokens = (m: Metrics): Counter<'agent' | 'model' | 'kind'> =>
  m.counter(
    'llm_tokens_total',
    'Tokens of model calls by agent, model and kind (input, output, cache_write, cache_read).',
    ['agent', 'model', 'kind'],
  );

export const llmCost = (m: Metrics): Counter<'agent' | 'model'> =>
  m.counter('llm_cost_usd_total', 'Cost of model calls in USD, by agent and model.', ['agent', 'model']);

/** One tool call, by outcome: `ok` or `error` (invalid input, failure, timeout, cancellation). */
export const toolDuration = (m: Metrics): Histogram<'tool' | 'outcome'> =>
  m.histogram(
    'tool_call_duration_seconds',
    'Tool calls by tool and outcome (ok or error).',
    ['tool', 'outcome'],
    TOOL_BUCKETS,
  );

export const taskDuration = (m: Metrics): Histogram<'agent' | 'status'> =>
  m.histogram(
    'task_duration_seconds',
    'Background tasks from their start to their end, by agent and final status.',
    ['agent', 'status'],
    TASK_BUCKETS,
  );

export const lockConflicts = (m: Metrics): Counter =>
  m.counter(
    'conversation_lock_conflicts_total',
    'Turns refused because another turn held the conversation (conversation_busy).',
  );

/** Jobs per queue and state, read from Redis at each scrape (`collect` is given by the queue owner). */
export const queueJobs = (
  m: Metrics,
  collect?: (this: Gauge<'queue' | 'state'>) => Promise<void>,
): Gauge<'queue' | 'state'> =>
  m.gauge(
    'queue_jobs',
    'Jobs in each queue by state, read from Redis at scrape time.',
    ['queue', 'state'],
    collect,
  );
