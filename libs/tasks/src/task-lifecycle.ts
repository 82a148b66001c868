// What follows a task's state change, wherever it happens (worker, API cancel, recovery): the Socket.IO
// events to its room, through the Redis emitter so any API instance delivers them, and the webhook.
import { Injectable, Logger } from '@nestjs/common';
import { IdGenerator, Metrics, taskDuration } from '@lib/core';
import { RealtimePublisher } from '@lib/realtime';
import { TaskOutcome, TaskRepository } from './task-repository';
import { TaskQueue } from './task-queue';
import { FinalTaskState, Task, toTaskStatus, webhookEventOf } from './task-records';

@Injectable()
export class TaskLifecycle {
  private readonly logger = new Logger('Tasks');
  private readonly duration: ReturnType<typeof taskDuration>;

  constructor(
    private readonly tasks: TaskRepository,
    private readonly queue: TaskQueue,
    private readonly realtime: RealtimePublisher,
    private readonly ids: IdGenerator,
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
  async finish(taskId: string, state: FinalTaskState, outcome: TaskOutcome): Promise<Task | null> {
    const task = await this.tasks.finish(taskId, state, outcome);
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
    if (task.webhookUrl) await this.enqueueWebhook(task, state);
    return task;
  }

  private async enqueueWebhook(task: Task, state: FinalTaskState): Promise<void> {
    const event = webhookEventOf(state);
    const webhookId = `msg_${this.ids.uuid().replace(/-/g, '')}`;
    try {
      await this.queue.enqueueWebhook({
        webhookId,
        taskId: task.id,
        tenantId: task.tenantId,
        event,
        url: task.webhookUrl!,
      });
    } catch (error) {
      this.logger.error(
        { task_id: task.id, err: error },
        `The ${event} webhook of task ${task.id} could not be queued: ${(error as Error).message}`,
      );
    }
  }
}
