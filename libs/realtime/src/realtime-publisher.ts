// Publishes task events to Socket.IO rooms from any process (API or worker) through Redis, so a client
// connected to any API instance receives them. (Run events go through the runs lib's event log.)
import { Injectable } from '@nestjs/common';
import { Emitter } from '@socket.io/redis-emitter';
import { RedisService } from '@lib/core';

export const CHAT_NAMESPACE = '/chat';

export const taskRoom = (taskId: string): string => `task:${taskId}`;

@Injectable()
export class RealtimePublisher {
  private readonly emitter: Emitter;
  /** Events that could not be published. */
  dropped = 0;

  constructor(redis: RedisService) {
    // Through the process's shared (auto-pipelined) client. Stream events are best effort: a publish that fails
    // (Redis away, or this process shutting down while a job still reports progress) is dropped, never an
    // unhandled rejection.
    const client = {
      publish: (channel: string, message: string | Buffer) =>
        redis.client.publish(channel, message).catch(() => (this.dropped += 1)),
    };
    this.emitter = new Emitter(client).of(CHAT_NAMESPACE);
  }

  /** Every payload carries its task_id. */
  toTask(taskId: string, event: string, payload: Record<string, unknown>): void {
    this.emitter.to(taskRoom(taskId)).emit(event, { task_id: taskId, ...payload });
  }
}
