// The Socket.IO and SSE wire protocol in one place: every server event's name and payload, and every client
// event's payload. The run supervisor, the event log, the gateway, SSE, the AsyncAPI document and the test clients
// all use these types, so an event cannot change shape in one of them only.

export type RunSource = 'rest' | 'sse' | 'socket' | 'task' | 'mcp';
export type RunState = 'queued' | 'running' | 'requires_action' | 'completed' | 'failed' | 'cancelled';
export const RUN_STATES: readonly RunState[] = [
  'queued',
  'running',
  'requires_action',
  'completed',
  'failed',
  'cancelled',
];
export type StopReason =
  'end_turn' | 'max_iterations' | 'cost_limit' | 'cancelled' | 'max_tokens' | 'requires_approval';
export const MULTITASK_STRATEGIES = ['reject', 'enqueue', 'interrupt'] as const;
export type MultitaskStrategy = (typeof MULTITASK_STRATEGIES)[number];
export const ON_DISCONNECT = ['continue', 'cancel'] as const;
export type OnDisconnect = (typeof ON_DISCONNECT)[number];

/** Carried by every event of a run: which conversation and run, and its place in the conversation's log. */
export interface RunEventBase {
  conversation_id: string;
  run_id: string;
  /** Strictly increases over the whole conversation, across runs and instances. */
  seq: number;
}

export interface RunStartedPayload extends RunEventBase {
  source: RunSource;
}
export interface TextPayload extends RunEventBase {
  content: string;
}
/** A delta of the model's reasoning: sent only to clients that ask for it (`include_thinking`). */
export interface ThinkingPayload extends RunEventBase {
  content: string;
}
export interface ToolStartPayload extends RunEventBase {
  tool_name: string;
  tool_use_id: string;
  arguments: Record<string, unknown>;
}
export interface ToolEndPayload extends RunEventBase {
  tool_name: string;
  tool_use_id: string;
  duration_ms: number;
  is_error: boolean;
  result_summary: string;
}
export interface DonePayload extends RunEventBase {
  message_id: string | null;
  stop_reason: StopReason;
  input_tokens: number;
  output_tokens: number;
  tokens_used: number;
  /** The parts of `input_tokens` read from and written to the prompt cache. */
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  cost_usd: number;
  latency_ms: number;
  /** The input tokens of the run's last model call, cache reads and writes included. */
  context_tokens: number;
  /** True when the run sent the model a compacted history (a summary, or cleared tool results). */
  compacted: boolean;
}
export interface ApprovalRequiredPayload extends RunEventBase {
  tool_use_id: string;
  tool_name: string;
  arguments: Record<string, unknown>;
  arguments_sha256: string;
  expires_at: string;
}
/** A run's failure carries run_id and seq; a refused client event (no run) carries neither. */
export interface ErrorPayload extends Partial<RunEventBase> {
  type: string;
  message: string;
  details?: unknown;
  retry_after?: number;
}
export interface TaskProgressPayload {
  task_id: string;
  status: string;
  progress: number;
}
export interface TaskDonePayload {
  task_id: string;
  [field: string]: unknown;
}

/** Server → client events of a run, in the conversation's event log. */
export interface RunEventMap {
  run_started: RunStartedPayload;
  text: TextPayload;
  thinking: ThinkingPayload;
  tool_start: ToolStartPayload;
  tool_end: ToolEndPayload;
  approval_required: ApprovalRequiredPayload;
  done: DonePayload;
  error: ErrorPayload & RunEventBase;
}
export type RunEventName = keyof RunEventMap;
/** Events a client receives only when it asks for them. */
export const OPT_IN_EVENT_NAMES: readonly RunEventName[] = ['thinking'];

/** Every server → client event. */
export interface ServerEventMap extends Omit<RunEventMap, 'error'> {
  error: ErrorPayload;
  task_progress: TaskProgressPayload;
  task_done: TaskDonePayload;
}
export type ServerEventName = keyof ServerEventMap;

/** One event of a conversation's log, as stored, replayed and delivered. */
export type RunEvent = {
  [Name in RunEventName]: { name: Name; payload: RunEventMap[Name] };
}[RunEventName];

/** One content block of a user message: `{type: "text", text}`, or an image or document with its `source`. */
export type UserContentBlockPayload =
  | { type: 'text'; text: string }
  | { type: 'image'; source: MediaSourcePayload }
  | { type: 'document'; source: MediaSourcePayload; title?: string };
export type MediaSourcePayload =
  { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };

/** Client → server events and their payloads (each may come with or without an acknowledgement callback). */
export interface ClientEventMap {
  message: {
    /** A string, or content blocks (`text`, `image`, `document`) as `ChatRequest.message` takes them. */
    message: string | UserContentBlockPayload[];
    conversation_id?: string;
    agent_name?: string;
    on_disconnect?: OnDisconnect;
    multitask_strategy?: MultitaskStrategy;
    /** This socket receives the conversation's `thinking` events from now on (false: stops them). */
    include_thinking?: boolean;
  };
  join: { conversation_id: string; after_seq?: number; include_thinking?: boolean };
  leave: { conversation_id: string };
  cancel: { conversation_id: string };
  subscribe_task: { task_id: string };
  approve: {
    run_id: string;
    tool_use_id: string;
    approve: boolean;
    reason?: string;
    /** The `arguments_sha256` the decider saw: a decision on other arguments is refused. */
    arguments_sha256?: string;
  };
}
export type ClientEventName = keyof ClientEventMap;

/** What each client event's acknowledgement receives when it is accepted (a refusal is `{error: ErrorPayload}`). */
export interface ClientAckMap {
  message: { conversation_id: string; run_id: string; status?: 'queued' };
  join: {
    conversation_id: string;
    last_seq: number;
    running_run_id?: string;
    replayed: number;
    truncated: boolean;
  };
  leave: { conversation_id: string };
  cancel: { conversation_id: string };
  subscribe_task: { task_id: string };
  approve: { run_id: string; tool_use_id: string };
}

export const RUN_EVENT_NAMES: readonly RunEventName[] = [
  'run_started',
  'text',
  'thinking',
  'tool_start',
  'tool_end',
  'approval_required',
  'done',
  'error',
];
export const SERVER_EVENT_NAMES: readonly ServerEventName[] = [
  ...RUN_EVENT_NAMES,
  'task_progress',
  'task_done',
];
export const CLIENT_EVENT_NAMES: readonly ClientEventName[] = [
  'message',
  'join',
  'leave',
  'cancel',
  'subscribe_task',
  'approve',
];
