// Publishes stream events to Socket.IO rooms from any process (API or worker) through Redis, so a client
// connected to any API instance receives them.
import { Injectable } from '@nestjs/common';
import { Emitter } from '@socket.io/redis-emitter';
import type { Namespace } from 'socket.io';
import { RedisService } from '@lib/core';

export const CHAT_NAMESPACE = '/chat';

export const CONVERSATION_ROOM_PREFIX = 'conversation:';
export const conversationRoom = (conversationId: string): string =>
  `${CONVERSATION_ROOM_PREFIX}${conversationId}`;
export const taskRoom = (taskId: string): string => `task:${taskId}`;

@Injectable()
export class RealtimePublisher {
  private readonly emitter: Emitter;
  private local: Namespace | undefined;
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

  /** Every payload carries its conversation_id, as the contract requires. */
  toConversation(conversationId: string, event: string, payload: Record<string, unknown>): void {
    this.emitter
      .to(conversationRoom(conversationId))
      .emit(event, { conversation_id: conversationId, ...payload });
  }

  /**
   * To the conversation's followers on this instance only, without Redis; through Redis when this process has
   * no Socket.IO server (then no follower can be local anyway).
   */
  toConversationHere(conversationId: string, event: string, payload: Record<string, unknown>): void {
    if (!this.local) return this.toConversation(conversationId, event, payload);
    this.local
      .to(conversationRoom(conversationId))
      .local.emit(event, { conversation_id: conversationId, ...payload });
  }

  /** The API's Socket.IO namespace, for events whose followers are all on this instance. */
  attachLocal(namespace: Namespace): void {
    this.local = namespace;
  }

  /** Every payload carries its task_id. */
  toTask(taskId: string, event: string, payload: Record<string, unknown>): void {
    this.emitter.to(taskRoom(taskId)).emit(event, { task_id: taskId, ...payload });
  }
}
