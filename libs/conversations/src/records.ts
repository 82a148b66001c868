// The plain records this lib hands out and takes in.
import type { ChatMessage, ContentBlock, Role } from '@lib/llm';

export interface Conversation {
  id: string;
  tenantId: string;
  agentName: string;
  /** The agent version the conversation started with: every turn uses it. Null for conversations older than that. */
  agentPin: { agentId: string; version: number } | null;
  title: string | null;
  status: 'active' | 'archived';
  temperature: number | null;
  maxIterations: number | null;
  metadata: Record<string, unknown>;
  messageCount: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** The conversation's own cost ceiling in USD; null: CONVERSATION_COST_LIMIT_USD applies. */
  costLimitUsd: number | null;
  /** The conversation's own context budget in tokens (below the model's window); null: the model's window. */
  maxContextTokens: number | null;
  /** Tool results of the messages before this position are sent to the model as a short placeholder. */
  toolResultsClearedBefore: number;
  /** Tools whose calls wait for a person's decision here, added to those the agent's operator named. */
  requireApproval: string[];
  createdAt: Date;
  lastMessageAt: Date | null;
}

export interface StoredMessage {
  id: string;
  role: Role;
  content: string | ContentBlock[];
  createdAt: Date;
}

export interface NewConversation {
  id: string;
  agentName: string;
  /** The agent version every turn of the conversation uses. */
  agentPin?: { agentId: string; version: number } | null;
  title?: string | null;
  temperature?: number | null;
  maxIterations?: number | null;
  metadata?: Record<string, unknown>;
  costLimitUsd?: number | null;
  requireApproval?: string[];
  maxContextTokens?: number | null;
}

/** A summary of the messages at positions `firstSeq`..`lastSeq` (0-based, inclusive), sent in their place. */
export interface ConversationSummary {
  id: string;
  conversationId: string;
  firstSeq: number;
  lastSeq: number;
  text: string;
  /** The model that wrote it. */
  model: string;
  /** Its size in tokens, as the model reported it (the output of the call that wrote it). */
  tokens: number;
  createdAt: Date;
}

/**
 * How a model call ended: `completed` (the provider finished its answer), `cancelled` (the turn was cancelled
 * mid-answer) or `failed` (cut, or an error, after the provider had started answering: retried or not).
 * A cancelled or failed call is recorded with what the provider billed of it.
 */
export type LlmCallStatus = 'completed' | 'cancelled' | 'failed';

/** One model call of a turn, as recorded in llm_calls. */
export interface LlmCallRecord {
  /**
   * The llm_calls row's id. A call that may be recorded twice (a run's journal replays it when the run is executed
   * again) carries one, so it is billed once; omitted: a new id.
   */
  id?: string;
  /** `completed` when omitted. */
  status?: LlmCallStatus;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cost_usd: number;
  latency_ms: number;
  time_to_first_token_ms: number | null;
  stop_reason: string;
  /** True when the model was not in the price table and the default price was used. */
  unknown_model_price?: boolean;
  /** The API key whose request made the call (a task: the key that created it), when known. */
  api_key_id?: string | null;
  /** The background task the call ran for. */
  task_id?: string | null;
}

export interface TurnRecord {
  tenantId: string;
  conversationId: string;
  /**
   * The fencing token of the lease the turn ran under: the append is refused when a later lease already wrote
   * to the conversation. Omitted: not fenced (a write outside any lease).
   */
  fence?: number;
  agentName: string;
  messages: ChatMessage[];
  llmCalls: LlmCallRecord[];
  /** The run the turn carried out: storing the turn ends it, in the same statement (see ConversationStore.appendTurn). */
  run?: RunEnding;
}

export interface AppendedTurn {
  messageIds: string[];
  /** The conversation's cost with this turn's calls. */
  costUsd: number;
  /**
   * With TurnRecord.run: whether the run's end was recorded (false: a newer execution of the run had taken it
   * over, see RunRepository.finish) and whether runs of the conversation are queued behind it.
   */
  run?: { recorded: boolean; queuedBehind: boolean };
}

/**
 * A run's row as the first statement of its turn writes it, with the conversation the turn creates (the `runs`
 * table is RunRepository's; ConversationStore.ensure writes this row so that a new conversation's turn starts with
 * one statement, not two).
 */
export interface RunBirth {
  id: string;
  source: string;
  /** The user message as text (runs.message). */
  message: string;
  /** The user message's content blocks as JSON, when it has blocks (runs.message_content). */
  messageContent: string | null;
  apiKeyId: string | null;
  taskId: string | null;
  priority: number;
}

/** A step of a run's journal as a row of `run_steps` (RunJournal numbers and writes them). */
export interface RunStepRow {
  step: number;
  kind: 'model' | 'tool_started' | 'tool';
  tool_use_id: string | null;
  data: Record<string, unknown>;
}

/**
 * How a run ends when its turn is stored: the same columns RunRepository.finish writes, and the journal steps
 * not written yet (the last model response, which asked for no tool: nothing ran after it).
 */
export interface RunEnding {
  id: string;
  status: 'completed' | 'cancelled';
  stopReason: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** The `seq` of the run's last event (its `done`). */
  lastSeq: number;
  steps: RunStepRow[];
}

export interface Page<T> {
  items: T[];
  total: number;
}
