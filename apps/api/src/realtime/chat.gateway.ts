// The Socket.IO gateway (namespace /chat): runs turns and relays every turn's events to the clients in its room.
import { Logger, UseInterceptors } from '@nestjs/common';
import {
  Ack,
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';
import { SocketGuard } from '@lib/auth';
import { DomainError, Metrics, socketConnections } from '@lib/core';
import { ConversationLock, ConversationStore } from '@lib/conversations';
import { TaskService } from '@lib/tasks';
import {
  CHAT_NAMESPACE,
  CONVERSATION_ROOM_PREFIX,
  ConversationWatchers,
  conversationRoom,
  LiveTurns,
  RealtimePublisher,
  taskRoom,
  TurnCancellations,
} from '@lib/realtime';
import { ChatRequestDto } from '../chat/chat.dto';
import { ConversationRefPayload, parsePayload, TaskRefPayload } from './socket-payloads';
import { SocketEventContext } from './socket-event-context';

type AckFn = ((response: unknown) => void) | undefined;

interface SocketState {
  tenantId: string;
  /** Set by the handshake check (SocketGuard). */
  principal?: { apiKeyId: string | null };
  /** Conversations whose turn this socket started and that still run: a disconnect cancels them. */
  turns?: Set<string>;
}

@WebSocketGateway({ namespace: CHAT_NAMESPACE })
@UseInterceptors(SocketEventContext)
export class ChatGateway implements OnGatewayInit, OnGatewayConnection {
  private readonly logger = new Logger(ChatGateway.name);
  @WebSocketServer() private readonly namespace: Namespace;
  private readonly connections: ReturnType<typeof socketConnections>;

  constructor(
    private readonly turns: LiveTurns,
    private readonly cancellations: TurnCancellations,
    private readonly conversations: ConversationStore,
    private readonly auth: SocketGuard,
    private readonly tasks: TaskService,
    private readonly lock: ConversationLock,
    private readonly watchers: ConversationWatchers,
    private readonly publisher: RealtimePublisher,
    metrics: Metrics,
  ) {
    this.connections = socketConnections(metrics);
  }

  afterInit(namespace: Namespace): void {
    namespace.use(this.auth.middleware());
    this.publisher.attachLocal(namespace);
  }

  handleConnection(socket: Socket): void {
    this.connections.inc();
    this.auth.track(socket);
    // Still in its rooms while disconnecting: the conversations it followed lose a watcher.
    socket.once('disconnecting', () => {
      const followed = [...socket.rooms].filter((room) => room.startsWith(CONVERSATION_ROOM_PREFIX));
      void this.watchers
        .unwatch(
          socket.id,
          followed.map((room) => room.slice(CONVERSATION_ROOM_PREFIX.length)),
        )
        .catch((error: Error) => this.logger.warn(`Could not remove a socket's watches: ${error.message}`));
    });
    socket.once('disconnect', () => {
      this.connections.dec();
      const state = socket.data as SocketState;
      for (const conversationId of state.turns ?? []) void this.cancellations.cancel(conversationId);
    });
  }

  @SubscribeMessage('message')
  async onMessage(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack: AckFn,
  ): Promise<void> {
    const state = socket.data as SocketState;
    let conversationId: string;
    let events: AsyncGenerator<unknown>;
    try {
      await this.auth.consumeMessage(socket);
      const request = await parsePayload(ChatRequestDto, body);
      const turn = await this.turns.start(
        {
          tenantId: state.tenantId,
          message: request.message,
          conversationId: request.conversation_id,
          agentName: request.agent_name,
          apiKeyId: state.principal?.apiKeyId ?? null,
        },
        { followedInRoom: true },
      );
      conversationId = turn.conversationId;
      events = turn.events;
    } catch (error) {
      return this.refuse(socket, ack, error);
    }
    // The sender follows its turn through the room, like every other subscriber on any instance.
    const room = conversationRoom(conversationId);
    if (!socket.rooms.has(room)) {
      await socket.join(room);
      // Later turns of this conversation (from any client) are published for it too; this one already is.
      // Recorded once per socket and conversation: a socket already in the room is in the watcher set.
      void this.watchers
        .watch(socket.id, conversationId, false)
        .catch((error: Error) => this.logger.warn(`Could not record a socket's watch: ${error.message}`));
    }
    ack?.({ conversation_id: conversationId });
    (state.turns ??= new Set()).add(conversationId);
    try {
      for await (const _event of events) {
        // Events reach clients through the room; draining runs the turn.
      }
    } finally {
      state.turns.delete(conversationId);
    }
  }

  @SubscribeMessage('join')
  async onJoin(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack: AckFn,
  ): Promise<void> {
    await this.answer(socket, ack, async () => {
      const { conversation_id } = await parsePayload(ConversationRefPayload, body);
      await this.conversationOfTenant(socket, conversation_id);
      await socket.join(conversationRoom(conversation_id));
      const runningSince = await this.lock.runningSince(conversation_id);
      // Answered once the turn running now (on whichever instance) publishes what follows for this socket.
      await this.watchers.watch(socket.id, conversation_id, runningSince !== undefined);
      return { conversation_id, ...(runningSince ? { running_since: runningSince.toISOString() } : {}) };
    });
  }

  @SubscribeMessage('leave')
  async onLeave(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack: AckFn,
  ): Promise<void> {
    await this.answer(socket, ack, async () => {
      const { conversation_id } = await parsePayload(ConversationRefPayload, body);
      await socket.leave(conversationRoom(conversation_id));
      await this.watchers.unwatch(socket.id, [conversation_id]);
      return { conversation_id };
    });
  }

  @SubscribeMessage('cancel')
  async onCancel(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack: AckFn,
  ): Promise<void> {
    await this.answer(socket, ack, async () => {
      const { conversation_id } = await parsePayload(ConversationRefPayload, body);
      await this.conversationOfTenant(socket, conversation_id);
      await this.cancellations.cancel(conversation_id);
      return { conversation_id };
    });
  }

  @SubscribeMessage('subscribe_task')
  async onSubscribeTask(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack: AckFn,
  ): Promise<void> {
    await this.answer(socket, ack, async () => {
      const { task_id } = await parsePayload(TaskRefPayload, body);
      // Another tenant's task answers not_found, like a missing one.
      await this.tasks.get((socket.data as SocketState).tenantId, task_id);
      await socket.join(taskRoom(task_id));
      return { task_id };
    });
  }

  /**
   * Shutdown: closes the connections of sockets that run no turn here (or all of them), so that their clients
   * reconnect through the load balancer to another instance. The transport is closed without a Socket.IO
   * `disconnect` packet on purpose: a client reconnects by itself after "transport close", but not after a
   * server-side disconnect. Rooms are re-joined by the client; turn events reach any instance through Redis.
   */
  releaseSockets(which: 'idle' | 'all'): number {
    let released = 0;
    for (const socket of this.namespace?.sockets.values() ?? []) {
      if (which === 'idle' && (socket.data as SocketState).turns?.size) continue;
      socket.conn.close();
      released += 1;
    }
    return released;
  }

  /** Open connections on this instance (for metrics and shutdown). */
  get connectionCount(): number {
    return this.namespace?.sockets.size ?? 0;
  }

  private async conversationOfTenant(socket: Socket, conversationId: string): Promise<void> {
    await this.conversations.get((socket.data as SocketState).tenantId, conversationId);
  }

  /** Runs a client event: its result is the acknowledgement, a failure is refused. */
  private async answer(socket: Socket, ack: AckFn, handle: () => Promise<unknown>): Promise<void> {
    try {
      ack?.(await handle());
    } catch (error) {
      this.refuse(socket, ack, error);
    }
  }

  /** A refused event: answered through the acknowledgement, or as an `error` event without one. */
  private refuse(socket: Socket, ack: AckFn, error: unknown): void {
    let body: { type: string; message: string; details?: unknown };
    if (error instanceof DomainError) {
      body = {
        type: error.type,
        message: error.message,
        ...(error.details ? { details: error.details } : {}),
        ...(error.retryAfterSeconds !== undefined ? { retry_after: error.retryAfterSeconds } : {}),
      };
    } else {
      this.logger.error({ err: error }, 'A socket event failed');
      body = { type: 'internal_error', message: 'An internal error occurred.' };
    }
    if (ack) ack({ error: body });
    else socket.emit('error', body);
  }
}
