// The JSON Schema of every payload in server-events.ts: each server event, each client event and each client
// event's acknowledgement. Keyed by the maps' event names, so an event added to a map without a schema here (or a
// field added to a payload without its schema) does not compile. The AsyncAPI document is built from these.
import type { ErrorType } from '../errors/domain-error';
import { JsonSchema, objectSchema, optional } from './json-schema';
import {
  ApprovalRequiredPayload,
  ClientAckMap,
  ClientEventMap,
  ClientEventName,
  DonePayload,
  ErrorPayload,
  MULTITASK_STRATEGIES,
  ON_DISCONNECT,
  RunEventBase,
  RunSource,
  RunStartedPayload,
  ServerEventName,
  StopReason,
  TaskProgressPayload,
  TextPayload,
  ThinkingPayload,
  ToolEndPayload,
  ToolStartPayload,
} from './server-events';

// Records rather than arrays: a value added to the union without being listed here is a compile error.
const ERROR_TYPES: Record<ErrorType, true> = {
  validation_error: true,
  unauthorized: true,
  forbidden: true,
  not_found: true,
  conversation_busy: true,
  conflict: true,
  payload_too_large: true,
  rate_limited: true,
  budget_exceeded: true,
  upstream_error: true,
  service_unavailable: true,
  internal_error: true,
};
const STOP_REASONS: Record<StopReason, true> = {
  end_turn: true,
  max_iterations: true,
  cost_limit: true,
  cancelled: true,
  max_tokens: true,
  requires_approval: true,
};
const RUN_SOURCES: Record<RunSource, true> = { rest: true, sse: true, socket: true, task: true, mcp: true };

const uuid = (description: string): JsonSchema => ({ type: 'string', format: 'uuid', description });
const integer = (description: string, minimum = 0): JsonSchema => ({ type: 'integer', minimum, description });
const toolArguments: JsonSchema = {
  type: 'object',
  additionalProperties: true,
  description: 'The tool input the model chose, as a JSON object.',
};

const runFields = {
  conversation_id: uuid('The conversation the run belongs to.'),
  run_id: uuid('The run that produced the event.'),
  seq: integer(
    "The event's place in the conversation's event log: strictly increases over the conversation, across runs " +
      'and instances. SSE frames carry it as `id:`; resume after it with `join {after_seq}` or `Last-Event-ID`.',
    1,
  ),
} satisfies Record<keyof RunEventBase, JsonSchema>;

const errorPayload = objectSchema<ErrorPayload>(
  "A refused client event or a failed run. A run's failure carries `conversation_id`, `run_id` and `seq`; a " +
    'refused client event (no run) carries none of them.',
  {
    type: {
      type: 'string',
      enum: Object.keys(ERROR_TYPES),
      description: 'The same types as the REST error envelope.',
    },
    message: { type: 'string', description: 'A human sentence.' },
    details: optional({ description: 'For `validation_error`: one `{field, message}` per field.' }),
    retry_after: optional(integer('For `rate_limited`: seconds to wait before retrying.')),
    conversation_id: optional(runFields.conversation_id),
    run_id: optional(runFields.run_id),
    seq: optional(runFields.seq),
  },
);

/** Every server → client event's payload. */
export const SERVER_EVENT_SCHEMAS = {
  run_started: objectSchema<RunStartedPayload>('The first event of every run.', {
    ...runFields,
    source: { type: 'string', enum: Object.keys(RUN_SOURCES), description: 'Who started the run.' },
  }),
  text: objectSchema<TextPayload>('A text delta, sent as the model produces it.', {
    ...runFields,
    content: {
      type: 'string',
      description: 'The next piece of the answer; concatenated, the deltas are it.',
    },
  }),
  thinking: objectSchema<ThinkingPayload>(
    "A delta of the model's reasoning (agents with extended thinking). Sent only to clients that asked for it: " +
      '`include_thinking: true` on `message` or `join` (SSE: on `POST /v1/chat/stream`, or ' +
      '`?include_thinking=true` on `GET /v1/conversations/{id}/events`).',
    {
      ...runFields,
      content: { type: 'string', description: 'The next piece of the reasoning.' },
    },
  ),
  tool_start: objectSchema<ToolStartPayload>('The model called a tool; it is running.', {
    ...runFields,
    tool_name: { type: 'string' },
    tool_use_id: { type: 'string', description: 'The id of the `tool_use` block.' },
    arguments: toolArguments,
  }),
  tool_end: objectSchema<ToolEndPayload>('A tool finished.', {
    ...runFields,
    tool_name: { type: 'string' },
    tool_use_id: { type: 'string' },
    duration_ms: integer('How long the tool ran.'),
    is_error: { type: 'boolean', description: 'The tool failed; the model sees the error as its result.' },
    result_summary: { type: 'string', maxLength: 200, description: 'The start of the result.' },
  }),
  approval_required: objectSchema<ApprovalRequiredPayload>(
    'The run paused before a tool that needs approval (status `requires_action`). Decide with the `approve` ' +
      'event or `POST /v1/runs/{id}/approvals`.',
    {
      ...runFields,
      tool_use_id: { type: 'string' },
      tool_name: { type: 'string' },
      arguments: toolArguments,
      arguments_sha256: {
        type: 'string',
        pattern: '^[0-9a-f]{64}$',
        description: 'SHA-256 (hex) of the arguments, to approve exactly what was shown.',
      },
      expires_at: {
        type: 'string',
        format: 'date-time',
        description: 'After this the approval counts as denied.',
      },
    },
  ),
  done: objectSchema<DonePayload>('The last event of a run that ended without an error.', {
    ...runFields,
    message_id: {
      type: ['string', 'null'],
      format: 'uuid',
      description: 'The stored assistant message (null if nothing was stored).',
    },
    stop_reason: { type: 'string', enum: Object.keys(STOP_REASONS) },
    input_tokens: integer('Summed over the run, cache reads and writes included.'),
    output_tokens: integer('Summed over the run.'),
    tokens_used: integer('input_tokens + output_tokens.'),
    cache_read_input_tokens: integer('The part of input_tokens read from the prompt cache.'),
    cache_creation_input_tokens: integer('The part of input_tokens written to the prompt cache.'),
    cost_usd: { type: 'number', minimum: 0 },
    latency_ms: integer('From the start of the run to its end.'),
    context_tokens: integer(
      "The input tokens of the run's last model call, cache reads and writes included: how full its context was.",
    ),
    compacted: {
      type: 'boolean',
      description:
        'True when the run sent the model a compacted history: older turns as a summary, or old tool results cleared.',
    },
  }),
  error: errorPayload,
  task_progress: objectSchema<TaskProgressPayload>('A subscribed task moved on (`subscribe_task`).', {
    task_id: uuid('The task.'),
    status: {
      type: 'string',
      description: 'The task status: `queued`, `running`, `completed`, `failed` or `cancelled`.',
    },
    progress: { type: 'number', minimum: 0, maximum: 1 },
  }),
  // TaskStatus as REST answers it: an open object, so it is described field by field rather than from the map.
  task_done: {
    type: 'object',
    description: 'A subscribed task ended: its `TaskStatus`, as `GET /v1/tasks/{id}` answers it.',
    properties: {
      task_id: uuid('The task.'),
      agent_name: { type: 'string' },
      status: { type: 'string', enum: ['completed', 'failed', 'cancelled'] },
      progress: { type: 'number', minimum: 0, maximum: 1 },
      result: { type: ['string', 'null'] },
      error: { type: ['string', 'null'] },
      run_id: { type: ['string', 'null'], format: 'uuid' },
      conversation_id: { type: ['string', 'null'], format: 'uuid' },
      total_tokens: { type: 'integer', minimum: 0 },
      cost_usd: { type: 'number', minimum: 0 },
      created_at: { type: 'string', format: 'date-time' },
      started_at: { type: ['string', 'null'], format: 'date-time' },
      finished_at: { type: ['string', 'null'], format: 'date-time' },
    },
    required: ['task_id', 'status'],
    additionalProperties: true,
  },
} satisfies Record<ServerEventName, JsonSchema>;

const mediaSource = (mediaTypes: string[]): JsonSchema => ({
  oneOf: [
    {
      type: 'object',
      properties: {
        type: { const: 'base64' },
        media_type: { type: 'string', enum: mediaTypes },
        data: { type: 'string', description: 'Base64.' },
      },
      required: ['type', 'media_type', 'data'],
      additionalProperties: false,
    },
    {
      type: 'object',
      properties: { type: { const: 'url' }, url: { type: 'string', format: 'uri' } },
      required: ['type', 'url'],
      additionalProperties: false,
    },
  ],
});
const userContentBlock: JsonSchema = {
  oneOf: [
    {
      type: 'object',
      properties: { type: { const: 'text' }, text: { type: 'string', minLength: 1, maxLength: 10000 } },
      required: ['type', 'text'],
      additionalProperties: false,
    },
    {
      type: 'object',
      properties: {
        type: { const: 'image' },
        source: mediaSource(['image/png', 'image/jpeg', 'image/gif', 'image/webp']),
      },
      required: ['type', 'source'],
      additionalProperties: false,
    },
    {
      type: 'object',
      properties: {
        type: { const: 'document' },
        source: mediaSource(['application/pdf']),
        title: { type: 'string', maxLength: 500 },
      },
      required: ['type', 'source'],
      additionalProperties: false,
    },
  ],
};

// The gateway validates client payloads like their REST twins and refuses unknown fields.
const closed = { additionalProperties: false };
const conversationRef = uuid("A conversation of the caller's tenant.");

/** Every client → server event's payload. */
export const CLIENT_EVENT_SCHEMAS = {
  message: objectSchema<ClientEventMap['message']>(
    'Start a run: send a user message (as `POST /v1/chat/stream`).',
    {
      message: {
        description:
          'The user message: a non-blank string, or content blocks as `ChatRequest.message` takes them (`text`, ' +
          '`image` png/jpeg/gif/webp, `document` PDF; base64 or URL). Mind SOCKET_MAX_PAYLOAD_BYTES for inline data.',
        oneOf: [
          { type: 'string', minLength: 1, maxLength: 10000 },
          { type: 'array', minItems: 1, items: userContentBlock },
        ],
      },
      conversation_id: optional(uuid('Continue this conversation; omit to start a new one.')),
      agent_name: optional({
        type: 'string',
        minLength: 1,
        maxLength: 100,
        description: 'The agent of a new conversation (ignored when continuing one). Defaults to `support`.',
      }),
      on_disconnect: optional({
        type: 'string',
        enum: ON_DISCONNECT,
        description:
          '`continue` (default): the run goes on when this socket disconnects; `cancel`: it stops.',
      }),
      multitask_strategy: optional({
        type: 'string',
        enum: MULTITASK_STRATEGIES,
        description:
          'While a run is running on the conversation: `reject` (default, `conversation_busy`), `enqueue` ' +
          '(runs after it, in arrival order) or `interrupt` (cancels it, then runs).',
      }),
      include_thinking: optional({
        type: 'boolean',
        description:
          "`true`: this socket receives the conversation's `thinking` events from now on; `false`: it stops. Off by default.",
      }),
    },
    closed,
  ),
  join: objectSchema<ClientEventMap['join']>(
    "Follow a conversation's events (another tab, a task's runs). With `after_seq`, first replay the retained " +
      'events after it, then continue live: no gap, no duplicate.',
    {
      conversation_id: conversationRef,
      after_seq: optional(
        integer('Resume after this `seq` (the last one received); omitted: live events only.'),
      ),
      include_thinking: optional({
        type: 'boolean',
        description: "`true`: also receive the conversation's `thinking` events. Off by default.",
      }),
    },
    closed,
  ),
  leave: objectSchema<ClientEventMap['leave']>(
    "Stop following a conversation's events.",
    { conversation_id: conversationRef },
    closed,
  ),
  cancel: objectSchema<ClientEventMap['cancel']>(
    'Stop the running run of a conversation (on any instance); it ends with `done` and `stop_reason: "cancelled"`.',
    { conversation_id: conversationRef },
    closed,
  ),
  subscribe_task: objectSchema<ClientEventMap['subscribe_task']>(
    "Receive a task's `task_progress` and `task_done` events.",
    { task_id: uuid("A task of the caller's tenant.") },
    closed,
  ),
  approve: objectSchema<ClientEventMap['approve']>(
    'Decide a pending approval (`approval_required`): an approved tool runs, a denied one gets an error result ' +
      'with the reason and the model goes on.',
    {
      run_id: uuid('The paused run.'),
      tool_use_id: { type: 'string', minLength: 1, maxLength: 200 },
      approve: { type: 'boolean' },
      reason: optional({
        type: 'string',
        minLength: 1,
        maxLength: 2000,
        description: 'Recorded with the decision; shown to the model when the tool is denied.',
      }),
      arguments_sha256: optional({
        type: 'string',
        pattern: '^[0-9a-f]{64}$',
        description:
          'The `arguments_sha256` of the `approval_required` the decider saw: a decision on other arguments is ' +
          'refused (`conversation_busy`, with details) and nothing runs.',
      }),
    },
    closed,
  ),
} satisfies Record<ClientEventName, JsonSchema>;

const accepted = {
  message: objectSchema<ClientAckMap['message']>('The run started (or was queued).', {
    conversation_id: uuid('The conversation (new when the message started one).'),
    run_id: uuid('The run the message started.'),
    status: optional({
      type: 'string',
      const: 'queued',
      description: 'Present with `multitask_strategy: "enqueue"` when the run waits for the running one.',
    }),
  }),
  join: objectSchema<ClientAckMap['join']>('Joined; the replay (if any) follows this acknowledgement.', {
    conversation_id: uuid('The joined conversation.'),
    last_seq: integer('The last `seq` of the conversation when it was joined (0: no event yet).'),
    running_run_id: optional(uuid('The run running on the conversation, if one is.')),
    replayed: integer('How many retained events follow as the replay.'),
    truncated: {
      type: 'boolean',
      description: 'Some requested events had expired: reload the conversation over REST.',
    },
  }),
  leave: objectSchema<ClientAckMap['leave']>('Left.', { conversation_id: uuid('The conversation left.') }),
  cancel: objectSchema<ClientAckMap['cancel']>('Cancellation requested; the run ends with `done`.', {
    conversation_id: uuid('The conversation whose run is cancelled.'),
  }),
  subscribe_task: objectSchema<ClientAckMap['subscribe_task']>('Subscribed.', {
    task_id: uuid('The task.'),
  }),
  approve: objectSchema<ClientAckMap['approve']>(
    'The decision was recorded; the run continues once none of its tool calls waits for a decision.',
    {
      run_id: uuid('The run.'),
      tool_use_id: { type: 'string' },
    },
  ),
} satisfies Record<ClientEventName, JsonSchema>;

const refused: JsonSchema = {
  type: 'object',
  description:
    'The event was refused (and nothing was done). Without a callback the same comes as an `error` event.',
  properties: { error: errorPayload },
  required: ['error'],
  additionalProperties: false,
};

const ack = (name: ClientEventName): JsonSchema => ({
  description: `The acknowledgement of \`${name}\`: accepted, or \`{error}\`.`,
  oneOf: [accepted[name], refused],
});

/** What each client event's acknowledgement callback receives: accepted, or `{error}`. */
export const CLIENT_ACK_SCHEMAS = {
  message: ack('message'),
  join: ack('join'),
  leave: ack('leave'),
  cancel: ack('cancel'),
  subscribe_task: ack('subscribe_task'),
  approve: ack('approve'),
} satisfies Record<ClientEventName, JsonSchema>;
