// Cancel requests across processes: the API publishes the task id on a Redis channel; the process running
// the task aborts it. The request is also in PostgreSQL (cancel_requested_at), which runs check between steps,
// so a message lost while a worker was reconnecting still stops the task.
import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig, RedisService } from '@lib/core';

const CHANNEL = 'agent-tasks:cancel';

@Injectable()
export class TaskCancellation implements OnModuleDestroy {
  private readonly logger = new Logger(TaskCancellation.name);
  private readonly running = new Map<string, Set<() => void>>();
  private subscriber: Redis | undefined;
  private subscribed: Promise<unknown> | undefined;

  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
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

  /** One subscriber connection per process, opened by the first task it runs. */
  private listen(): Promise<unknown> {
    if (!this.subscribed) {
      const subscriber = new Redis(this.config.redisUrl, {
        maxRetriesPerRequest: null,
        connectTimeout: 5_000,
      });
      subscriber.on('error', () => undefined);
      subscriber.on('message', (_channel: string, taskId: string) => {
        for (const onCancel of this.running.get(taskId) ?? []) onCancel();
      });
      this.subscriber = subscriber;
      this.subscribed = subscriber.subscribe(CHANNEL).catch((error: Error) => {
        this.subscribed = undefined;
        subscriber.disconnect();
        throw error;
      });
    }
    return this.subscribed;
  }

  async onModuleDestroy(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }
}
