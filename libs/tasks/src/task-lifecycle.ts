// What follows a task's state change, wherever it happens (worker, API cancel, recovery): the Socket.IO
// events to its room, through the Redis emitter so any API instance delivers them, and the webhook — staged in the
// outbox in the transaction that ends the task, then handed to the queue (or, should that fail, to the relay).
import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Metrics, taskDuration } from '@lib/core';
import { RealtimePublisher } from '@lib/realtime';
import { WebhookOutbox } from '@lib/webhooks';
import { TaskOutcome, TaskRepository } from './task-repository';
import { FinalTaskState, Task, toTaskStatus, webhookEventOf } from './task-records';

@Injectable()
export class TaskLifecycle {
  private readonly logger = new Logger('Tasks');
  private readonly duration: ReturnType<typeof taskDuration>;

  constructor(
    private readonly tasks: TaskRepository,
    private readonly realtime: RealtimePublisher,
    private readonly webhooks: WebhookOutbox,
    metrics: Metrics,
  ) {
    this.duration = taskDuration(metrics);
  }

  /** `task_progress` to the task's subscribers. */
  progressed(task: Pick<Task, 'id' | 'status' | 'progress'>): void {
    this.realtime.toTask(task.id, 'task_progress', { status: task.status, progress: task.progress });
  }

  /**
   * Ends the task if it is still unfinished, then tells its subscribers and its webhook. Null when it had
   * already ended: only the first ending counts, and only it is announced.
   */
  async finish(
    taskId: string,
    state: FinalTaskState,
    outcome: TaskOutcome,
    /** The task as its caller read it: one without a webhook ends with one UPDATE, no transaction around it. */
    known?: Pick<Task, 'webhookUrl'>,
  ): Promise<Task | null> {
    let webhookId: string | null = null;
    const stage =
      known && !known.webhookUrl
        ? undefined
        : async (ended: Task, db: EntityManager) => {
            if (!ended.webhookUrl) return;
            webhookId = await this.webhooks.stage(db, {
              tenantId: ended.tenantId,
              taskId: ended.id,
              event: webhookEventOf(state),
              url: ended.webhookUrl,
              body: JSON.stringify({ event: webhookEventOf(state), task: toTaskStatus(ended) }),
            });
          };
    const task = await this.tasks.finish(taskId, state, outcome, stage);
    if (!task) return null;
    this.logger.log(
      { task_id: task.id, request_id: task.requestId, attempts: task.attempts },
      `Task ${task.id} ${state}${task.error ? `: ${task.error}` : ''}`,
    );
    if (task.startedAt && task.finishedAt) {
      this.duration.observe(
        { agent: task.agentName, status: state },
        (task.finishedAt.getTime() - task.startedAt.getTime()) / 1000,
      );
    }
    const status = toTaskStatus(task);
    this.progressed(task);
    this.realtime.toTask(task.id, 'task_done', { ...status });
    if (webhookId) await this.webhooks.dispatch(webhookId);
    return task;
  }
}
