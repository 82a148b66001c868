// One example payload per event and acknowledgement, typed by the maps in server-events.ts: the AsyncAPI document
// shows them, and its test checks that each one also satisfies the event's JSON Schema.
import type { ClientAckMap, ClientEventMap, ServerEventMap } from './server-events';

const conversation_id = '0f8fad5b-d9cb-469f-a165-70867728950e';
const run_id = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const task_id = '16fd2706-8baf-433b-82eb-8c7fada847da';
const tool_use_id = 'toolu_01A09q90qw90lq917835lq9';

export const SERVER_EVENT_EXAMPLES: { [Name in keyof ServerEventMap]: ServerEventMap[Name] } = {
  run_started: { conversation_id, run_id, seq: 41, source: 'socket' },
  text: { conversation_id, run_id, seq: 42, content: 'Order 1001 has ' },
  thinking: {
    conversation_id,
    run_id,
    seq: 42,
    content: 'The customer asks about order 1001; look it up first.',
  },
  tool_start: {
    conversation_id,
    run_id,
    seq: 43,
    tool_name: 'lookup_order',
    tool_use_id,
    arguments: { order_number: '1001' },
  },
  tool_end: {
    conversation_id,
    run_id,
    seq: 44,
    tool_name: 'lookup_order',
    tool_use_id,
    duration_ms: 12,
    is_error: false,
    result_summary: '{"order_number":"1001","status":"shipped","carrier":"UPS"}',
  },
  approval_required: {
    conversation_id,
    run_id,
    seq: 45,
    tool_use_id,
    tool_name: 'issue_refund',
    arguments: { order_number: '1001', amount_usd: 25 },
    arguments_sha256: '9f2c4f3b8e7d6a5c4b3a29181716151413121110a9b8c7d6e5f4a3b2c1d0e9f8',
    expires_at: '2026-11-25T10:00:00.000Z',
  },
  done: {
    conversation_id,
    run_id,
    seq: 46,
    message_id: 'a3bb189e-8bf9-3888-9912-ace4e6543002',
    stop_reason: 'end_turn',
    input_tokens: 640,
    output_tokens: 172,
    tokens_used: 812,
    cache_read_input_tokens: 512,
    cache_creation_input_tokens: 0,
    cost_usd: 0.0045,
    latency_ms: 950,
    context_tokens: 640,
    compacted: false,
  },
  error: {
    conversation_id,
    run_id,
    seq: 47,
    type: 'upstream_error',
    message: 'The model provider did not answer.',
  },
  task_progress: { task_id, status: 'running', progress: 0.5 },
  task_done: {
    task_id,
    agent_name: 'support',
    status: 'completed',
    progress: 1,
    result: 'Order 1001 has shipped with UPS.',
    error: null,
    run_id,
    conversation_id,
    total_tokens: 812,
    cost_usd: 0.0045,
    created_at: '2026-11-24T10:00:00.000Z',
    started_at: '2026-11-24T10:00:00.120Z',
    finished_at: '2026-11-24T10:00:01.070Z',
  },
};

export const CLIENT_EVENT_EXAMPLES: { [Name in keyof ClientEventMap]: ClientEventMap[Name] } = {
  message: { message: 'Where is order 1001?', conversation_id, multitask_strategy: 'enqueue' },
  join: { conversation_id, after_seq: 41 },
  leave: { conversation_id },
  cancel: { conversation_id },
  subscribe_task: { task_id },
  approve: { run_id, tool_use_id, approve: false, reason: 'Refunds above $20 need a manager.' },
};

export const CLIENT_ACK_EXAMPLES: { [Name in keyof ClientAckMap]: ClientAckMap[Name] } = {
  message: { conversation_id, run_id },
  join: { conversation_id, last_seq: 44, running_run_id: run_id, replayed: 3, truncated: false },
  leave: { conversation_id },
  cancel: { conversation_id },
  subscribe_task: { task_id },
  approve: { run_id, tool_use_id },
};
