// Cancel requests across processes: the API publishes the task id on a Redis channel; the process running
// the task aborts it. The request is also in PostgreSQL (cancel_requested_at), which runs check between steps,
// so a message lost while a worker was reconnecting still stops the task.
import { Injectable, Logger } from '@nestjs/common';
import { RedisService, RedisSubscriber } from '@lib/core';

const CHANNEL = 'agent-tasks:cancel';

@Injectable()
export class TaskCancellation {
  private readonly logger = new Logger(TaskCancellation.name);
  private readonly running = new Map<string, Set<() => void>>();
  private subscribed: Promise<void> | undefined;

  constructor(
    private readonly redis: RedisService,
    private readonly subscriber: RedisSubscriber,
  ) {}

  async publish(taskId: string): Promise<void> {
    await this.redis.client.publish(CHANNEL, taskId);
  }

  /** Calls `onCancel` when a cancel of the task is published; resolves once this process listens. */
  async watch(taskId: string, onCancel: () => void): Promise<() => void> {
    const listeners = this.running.get(taskId) ?? new Set();
    listeners.add(onCancel);
    this.running.set(taskId, listeners);
    await this.listen().catch((error: Error) => {
      this.logger.warn(`Cancel requests are not received (checked between steps instead): ${error.message}`);
    });
    return () => {
      listeners.delete(onCancel);
      if (!listeners.size) this.running.delete(taskId);
    };
  }

  /** Subscribed when the process runs its first task (the API, without in-process workers, never does). */
  private listen(): Promise<void> {
    this.subscribed ??= this.subscriber
      .subscribe(CHANNEL, (taskId) => {
        for (const onCancel of this.running.get(taskId) ?? []) onCancel();
      })
      .catch((error: Error) => {
        // The next task tries again.
        this.subscribed = undefined;
        throw error;
      });
    return this.subscribed;
  }
}
