// The plain records this lib hands out, and the contract's TaskStatus as REST, Socket.IO and webhooks send it.
import type { UserMessage } from '@lib/llm';
// `requires_action`: the task's run waits for a person's decision on a tool call (no worker slot is held meanwhile).
export const TASK_STATES = [
  'queued',
  'running',
  'requires_action',
  'completed',
  'failed',
  'cancelled',
] as const;
export type TaskState = (typeof TASK_STATES)[number];
export type FinalTaskState = 'completed' | 'failed' | 'cancelled';

export function isFinal(state: TaskState): state is FinalTaskState {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}

export interface Task {
  id: string;
  tenantId: string;
  agentName: string;
  /** The agent version the task runs with: the one current when it was created (null for older tasks). */
  agentPin: { agentId: string; version: number } | null;
  /** A string, or content blocks (text, image, document) as a chat message may be. */
  instruction: UserMessage;
  status: TaskState;
  progress: number;
  result: string | null;
  error: string | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** Runs started, re-runs after a crashed worker included: execution is at-least-once. */
  attempts: number;
  webhookUrl: string | null;
  metadata: Record<string, unknown>;
  /** The agent conversation the task runs in; it exists once the task's turn is stored. */
  conversationId: string;
  /** The queue (prefix and name) that owns the task's job. */
  queue: string;
  requestId: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  cancelRequestedAt: Date | null;
  /** The run executing (or that executed) the task's turn. */
  runId: string | null;
}

export interface NewTask {
  agentName: string;
  agentPin?: { agentId: string; version: number } | null;
  instruction: UserMessage;
  webhookUrl?: string | null;
  metadata?: Record<string, unknown>;
  /** The request that created the task, carried into its job's logs. */
  requestId?: string | null;
}

export interface TaskPage {
  items: Task[];
  total: number;
}

/** The contract's TaskStatus (plus the task's attempts, conversation and metadata). */
export interface TaskStatusView {
  task_id: string;
  agent_name: string;
  status: TaskState;
  progress: number;
  result: string | null;
  error: string | null;
  total_tokens: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  attempts: number;
  conversation_id: string;
  run_id: string | null;
  metadata: Record<string, unknown>;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export function toTaskStatus(task: Task): TaskStatusView {
  return {
    task_id: task.id,
    agent_name: task.agentName,
    status: task.status,
    progress: task.progress,
    result: task.result,
    error: task.error,
    total_tokens: task.inputTokens + task.outputTokens,
    input_tokens: task.inputTokens,
    output_tokens: task.outputTokens,
    cost_usd: task.costUsd,
    attempts: task.attempts,
    conversation_id: task.conversationId,
    run_id: task.runId,
    metadata: task.metadata,
    created_at: task.createdAt.toISOString(),
    started_at: task.startedAt ? task.startedAt.toISOString() : null,
    finished_at: task.finishedAt ? task.finishedAt.toISOString() : null,
  };
}

export type WebhookEvent = 'task.completed' | 'task.failed' | 'task.cancelled';

export function webhookEventOf(state: FinalTaskState): WebhookEvent {
  return `task.${state}`;
}
