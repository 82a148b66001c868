// The queue port: what the task lib needs from a job queue. Bull is behind it today (BullTaskQueue);
// moving to BullMQ, or a synchronous driver for tests, is one adapter. (Webhooks have a queue of their own, in
// @lib/webhooks.)
import type { TraceCarrier } from '@lib/core';
export const AGENT_TASKS_QUEUE = 'agent-tasks';

export interface TaskJob {
  taskId: string;
  /** The request that created the task, for the job's log lines. */
  requestId?: string | null;
  /** The trace context of the request that queued it (W3C `traceparent`), added by the queue when tracing is on. */
  trace?: TraceCarrier;
}

export type TaskJobState = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed' | 'missing';

export type TaskRemoval = 'removed' | 'missing' | 'active';

export abstract class TaskQueue {
  /** The queue's name including its prefix: what a task row records as its owner. */
  abstract readonly taskQueueName: string;
  /** Adds the task's job; its id is the task id, so adding it twice is harmless. */
  abstract enqueueTask(job: TaskJob): Promise<void>;
  /**
   * Adds a job that re-executes a task whose run waited for decisions (its first job has completed). `key` names
   * the resumption: adding the same one twice is harmless.
   */
  abstract enqueueResumption(job: TaskJob, key: string): Promise<void>;
  /** Removes the task's job unless a worker holds it (`active`). */
  abstract removeTask(taskId: string): Promise<TaskRemoval>;
  abstract taskJobState(taskId: string): Promise<{ state: TaskJobState; failedReason?: string }>;
}
