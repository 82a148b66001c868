// The events of one agent turn: what REST collects, SSE writes, the gateway emits and the task processor follows.
import type { ChatMessage, ToolUseBlock } from '@lib/llm';
import type { LlmCallRecord } from '@lib/conversations';
import type { ModelStep } from './step-journal';

export type StopReason = 'end_turn' | 'max_iterations' | 'cost_limit' | 'cancelled' | 'max_tokens';

export interface TextEvent {
  type: 'text';
  content: string;
}

/** A delta of the model's reasoning (agents with extended thinking); clients receive it only when they ask. */
export interface ThinkingEvent {
  type: 'thinking';
  content: string;
}

export interface ToolStartEvent {
  type: 'tool_start';
  tool_name: string;
  tool_use_id: string;
  arguments: Record<string, unknown>;
}

export interface ToolEndEvent {
  type: 'tool_end';
  tool_name: string;
  tool_use_id: string;
  duration_ms: number;
  is_error: boolean;
  result_summary: string;
}

export interface TurnUsage {
  /** Includes cache writes and reads, as the contract counts input. */
  input_tokens: number;
  output_tokens: number;
  tokens_used: number;
  /** The parts of `input_tokens` read from and written to the prompt cache. */
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  cost_usd: number;
}

/** The runner's last event: the turn as it should be stored. */
export interface RunnerDoneEvent {
  type: 'runner_done';
  stop_reason: StopReason;
  response: string;
  messages: ChatMessage[];
  llm_calls: LlmCallRecord[];
  usage: TurnUsage;
  iterations: number;
  /** The input tokens of the turn's last model call, cache reads and writes included (0: no call finished). */
  context_tokens: number;
  /** True when a call of this turn sent a compacted history (a summary, or cleared tool results). */
  compacted: boolean;
  /**
   * With a journal: the turn's last model response when it asked for no tool, not recorded yet. Whoever stores the
   * turn records it, in the same statement when it can (ChatService), and before giving the run up otherwise.
   */
  final_step?: ModelStep;
}

/**
 * The runner stopped because a ToolGate paused some of the step's tool calls: the step's other results are in the
 * journal, nothing is stored in the conversation, and executing the run again continues from the paused calls.
 */
export interface RunnerPausedEvent {
  type: 'runner_paused';
  pending: ToolUseBlock[];
  /** What the run's model calls used so far (replayed ones included). */
  usage: TurnUsage;
  context_tokens: number;
  compacted: boolean;
}

/** The turn stopped waiting for the tool calls a gate paused (see RunnerPausedEvent); the run is not over. */
export interface PausedEvent extends TurnUsage {
  type: 'paused';
  pending: ToolUseBlock[];
  latency_ms: number;
  context_tokens: number;
  compacted: boolean;
}

/** The last event a transport sees: the turn is stored and `message_id` names its answer. */
export interface DoneEvent extends TurnUsage {
  type: 'done';
  message_id: string | null;
  stop_reason: StopReason;
  latency_ms: number;
  response: string;
  /** See RunnerDoneEvent. */
  context_tokens: number;
  compacted: boolean;
  /** The turn was a run's (TurnRequest.run): storing it recorded the run's end too (see AppendedTurn.run). */
  run_ended?: { recorded: boolean; queuedBehind: boolean };
}

export type AgentEvent = TextEvent | ThinkingEvent | ToolStartEvent | ToolEndEvent;
export type RunnerEvent = AgentEvent | RunnerDoneEvent | RunnerPausedEvent;
export type TurnEvent = AgentEvent | DoneEvent | PausedEvent;
