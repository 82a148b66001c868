// The plain records of this lib, and the contract's RunStatus as REST sends it.
import type { AgentPin } from '@lib/agents';
import type { ErrorPayload, MultitaskStrategy, RunSource, RunState, StopReason } from '@lib/core';
import type { ToolGate } from '@lib/chat';
import type { UserMessage } from '@lib/llm';
import type { PendingApprovalView } from './approval-records';

export interface Run {
  id: string;
  tenantId: string;
  conversationId: string;
  agentName: string;
  source: RunSource;
  status: RunState;
  stopReason: StopReason | null;
  error: ErrorPayload | null;
  message: UserMessage;
  apiKeyId: string | null;
  taskId: string | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  lastSeq: number;
  /** How often the reconciler resumed it (read where a run is claimed for an execution; 0 elsewhere). */
  resumes?: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** The run's tool calls waiting for a decision (read for a run that is `requires_action`). */
  pendingApprovals?: PendingApprovalView[];
}

/** What starts a run, whichever transport it came through. */
export interface RunRequest {
  tenantId: string;
  message: UserMessage;
  /** Omitted: a new conversation with `agentName` (or the default agent). */
  conversationId?: string;
  agentName?: string;
  /** The agent version a new conversation starts with (a task's); omitted: the agent's current version. */
  agentPin?: AgentPin;
  source: RunSource;
  /** The caller's API key (a task: the key that created it), recorded on the run and on each model call. */
  apiKeyId?: string | null;
  /** What to do when the conversation already has a run going (default `reject`: 409). */
  multitaskStrategy?: MultitaskStrategy;
  /** A task's run: tools get the task in their context, and the task's conversation id starts the conversation. */
  taskId?: string;
  newConversationId?: string;
  /** Called after each iteration (a model call and its tools) while the loop goes on. */
  onIteration?: (progress: { iteration: number; maxIterations: number }) => Promise<void> | void;
  /**
   * The run's id when the caller chose it beforehand (a task records its run's id before starting it, so that its
   * next attempt executes the same run again); omitted: a new one.
   */
  runId?: string;
  /** Decides whether each tool call runs (see ToolGate in @lib/chat); omitted: every call runs. */
  gate?: ToolGate;
}

export interface RunTotals {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface FinishedRun extends RunTotals {
  status: Extract<RunState, 'completed' | 'failed' | 'cancelled'>;
  stopReason: StopReason | null;
  error: ErrorPayload | null;
  lastSeq: number;
}

/** The contract's RunStatus. */
export interface RunStatus {
  run_id: string;
  conversation_id: string;
  agent_name: string;
  source: RunSource;
  status: RunState;
  stop_reason: StopReason | null;
  error: { error: ErrorPayload } | null;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  pending_approvals: PendingApprovalView[];
  task_id: string | null;
}

export function toRunStatus(run: Run): RunStatus {
  return {
    run_id: run.id,
    conversation_id: run.conversationId,
    agent_name: run.agentName,
    source: run.source,
    status: run.status,
    stop_reason: run.stopReason,
    error: run.error ? { error: run.error } : null,
    input_tokens: run.inputTokens,
    output_tokens: run.outputTokens,
    cost_usd: run.costUsd,
    created_at: run.createdAt.toISOString(),
    started_at: run.startedAt?.toISOString() ?? null,
    finished_at: run.finishedAt?.toISOString() ?? null,
    pending_approvals: run.pendingApprovals ?? [],
    task_id: run.taskId,
  };
}

export function isFinished(state: RunState): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}
