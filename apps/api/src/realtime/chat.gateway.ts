// The Socket.IO gateway (namespace /chat): adapts the run supervisor to sockets. A socket follows the
// conversations it joined or wrote to, on whichever instance their runs run, and resumes them from a sequence number.
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
import { DomainError, ErrorPayload, Metrics, RunEvent, socketConnections } from '@lib/core';
import { ConversationStore } from '@lib/conversations';
import { TaskService } from '@lib/tasks';
import { CHAT_NAMESPACE, taskRoom } from '@lib/realtime';
import { offer, RunApprovals, RunFeed, RunFollower, RunSupervisor } from '@lib/runs';
import { ChatRequestDto, toRunRequest } from '../chat/chat.dto';
import {
  ApprovePayload,
  ConversationRefPayload,
  JoinPayload,
  parsePayload,
  TaskRefPayload,
} from './socket-payloads';
import { SocketEventContext } from './socket-event-context';

type AckFn = ((response: unknown) => void) | undefined;

interface SocketState {
  tenantId: string;
  /** Set by the handshake check (SocketGuard). */
  principal?: { apiKeyId: string | null };
  /** The conversations this socket follows, each with the last event number it received. */
  following?: Map<string, RunFollower>;
  /** Runs this socket started that still run, with what its disconnect does to them. */
  runs?: Map<string, { cancelOnDisconnect: boolean; cancel(): Promise<void> }>;
}

@WebSocketGateway({ namespace: CHAT_NAMESPACE })
@UseInterceptors(SocketEventContext)
export class ChatGateway implements OnGatewayInit, OnGatewayConnection {
  private readonly logger = new Logger(ChatGateway.name);
  @WebSocketServer() private readonly namespace: Namespace;
  private readonly connections: ReturnType<typeof socketConnections>;

  constructor(
    private readonly runs: RunSupervisor,
    private readonly feed: RunFeed,
    private readonly conversations: ConversationStore,
    private readonly auth: SocketGuard,
    private readonly tasks: TaskService,
    private readonly approvals: RunApprovals,
    metrics: Metrics,
  ) {
    this.connections = socketConnections(metrics);
  }

  afterInit(namespace: Namespace): void {
    namespace.use(this.auth.middleware());
  }

  handleConnection(socket: Socket): void {
    this.connections.inc();
    this.auth.track(socket);
    socket.once('disconnect', () => {
      this.connections.dec();
      const state = socket.data as SocketState;
      for (const [conversationId, follower] of state.following ?? [])
        this.feed.unfollow(conversationId, follower);
      state.following?.clear();
      // A run belongs to its conversation: it goes on unless its sender asked for `on_disconnect: "cancel"`.
      for (const run of state.runs?.values() ?? []) if (run.cancelOnDisconnect) void run.cancel();
    });
  }

  @SubscribeMessage('message')
  async onMessage(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack: AckFn,
  ): Promise<void> {
    const state = socket.data as SocketState;
    let request: ChatRequestDto;
    let run;
    try {
      await this.auth.consumeMessage(socket);
      request = await parsePayload(ChatRequestDto, body);
      run = await this.runs.start(
        toRunRequest(request, {
          tenantId: state.tenantId,
          apiKeyId: state.principal?.apiKeyId ?? null,
          source: 'socket',
        }),
      );
    } catch (error) {
      return this.refuse(socket, ack, error);
    }
    // The sender follows the conversation from now on, like a socket that joined it (later runs too); a socket
    // that already follows it keeps its follower (following twice would keep the instance listening after it left).
    const alreadyFollowing = state.following?.has(run.conversationId) ?? false;
    const follower = this.follower(socket, run.conversationId);
    // The latest choice of the socket wins: `include_thinking` on a message (or a join) turns thinking on or off.
    if (request.include_thinking !== undefined) follower.thinking = request.include_thinking;
    if (!alreadyFollowing) {
      void this.feed
        .follow(run.conversationId, follower)
        .then((following) => following.start())
        .catch((error: Error) =>
          this.logger.warn(`Could not follow conversation ${run.conversationId}: ${error.message}`),
        );
    }
    ack?.({
      conversation_id: run.conversationId,
      run_id: run.runId,
      ...(run.status === 'queued' ? { status: 'queued' } : {}),
    });
    const runs = (state.runs ??= new Map());
    runs.set(run.runId, {
      cancelOnDisconnect: request.on_disconnect === 'cancel',
      cancel: () => run.cancel(),
    });
    try {
      // This run's events come straight from the supervisor; the socket's follower of the conversation (whichever
      // it is now: a later `join` replaces it, a `leave` removes it) delivers each once.
      for await (const event of run.events) {
        const current = state.following?.get(run.conversationId);
        if (current) offer(current, event);
      }
    } finally {
      runs.delete(run.runId);
    }
  }

  @SubscribeMessage('join')
  async onJoin(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack: AckFn,
  ): Promise<void> {
    const state = socket.data as SocketState;
    let reply: Record<string, unknown>;
    let start: () => void;
    try {
      const { conversation_id, after_seq, include_thinking } = await parsePayload(JoinPayload, body);
      await this.conversationOfTenant(socket, conversation_id);
      // A new join replaces the socket's earlier following of the conversation (a resume from another number).
      const previous = state.following?.get(conversation_id);
      if (previous) this.feed.unfollow(conversation_id, previous);
      state.following?.delete(conversation_id);
      const follower = this.follower(socket, conversation_id);
      follower.thinking = include_thinking ?? previous?.thinking ?? false;
      const following = await this.feed.follow(conversation_id, follower, { afterSeq: after_seq });
      // Live only: what follows the acknowledgement is numbered after its last_seq (a socket that followed the
      // conversation already goes on from what it had).
      if (after_seq === undefined) follower.lastSeq = previous?.lastSeq ?? following.lastSeq;
      const running = await this.runs.active(conversation_id);
      reply = {
        conversation_id,
        last_seq: following.lastSeq,
        ...(running ? { running_run_id: running } : {}),
        replayed: following.replayed,
        truncated: following.truncated,
      };
      start = following.start;
    } catch (error) {
      return this.refuse(socket, ack, error);
    }
    ack?.(reply);
    start();
  }

  @SubscribeMessage('leave')
  async onLeave(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack: AckFn,
  ): Promise<void> {
    await this.answer(socket, ack, async () => {
      const { conversation_id } = await parsePayload(ConversationRefPayload, body);
      const following = (socket.data as SocketState).following;
      const follower = following?.get(conversation_id);
      if (follower) this.feed.unfollow(conversation_id, follower);
      following?.delete(conversation_id);
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
      await this.runs.cancelConversation(conversation_id);
      return { conversation_id };
    });
  }

  @SubscribeMessage('approve')
  async onApprove(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
    @Ack() ack: AckFn,
  ): Promise<void> {
    await this.answer(socket, ack, async () => {
      const payload = await parsePayload(ApprovePayload, body);
      const state = socket.data as SocketState;
      await this.approvals.decide(
        state.tenantId,
        payload.run_id,
        [
          {
            toolUseId: payload.tool_use_id,
            approve: payload.approve,
            reason: payload.reason,
            argumentsSha256: payload.arguments_sha256,
          },
        ],
        state.principal?.apiKeyId ?? null,
      );
      return { run_id: payload.run_id, tool_use_id: payload.tool_use_id };
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
   * Shutdown: closes the connections of sockets that run nothing here (or all of them), so that their clients
   * reconnect through the load balancer to another instance. The transport is closed without a Socket.IO
   * `disconnect` packet on purpose: a client reconnects by itself after "transport close", but not after a
   * server-side disconnect. Clients re-join with their last `seq` and miss nothing.
   */
  releaseSockets(which: 'idle' | 'all'): number {
    let released = 0;
    for (const socket of this.namespace?.sockets.values() ?? []) {
      if (which === 'idle' && (socket.data as SocketState).runs?.size) continue;
      socket.conn.close();
      released += 1;
    }
    return released;
  }

  /** Open connections on this instance (for metrics and shutdown). */
  get connectionCount(): number {
    return this.namespace?.sockets.size ?? 0;
  }

  /** The socket's follower of the conversation (one per socket and conversation). */
  private follower(socket: Socket, conversationId: string): RunFollower {
    const following = ((socket.data as SocketState).following ??= new Map());
    let follower = following.get(conversationId);
    if (!follower) {
      follower = { lastSeq: -1, deliver: (event: RunEvent) => socket.emit(event.name, event.payload) };
      following.set(conversationId, follower);
    }
    return follower;
  }

  private async conversationOfTenant(socket: Socket, conversationId: string): Promise<void> {
    await this.conversations.get((socket.data as SocketState).tenantId, conversationId);
  }

  /** Runs a client event, with or without an acknowledgement: its result is the acknowledgement, a failure is refused. */
  private async answer(socket: Socket, ack: AckFn, handle: () => Promise<unknown>): Promise<void> {
    let result: unknown;
    try {
      result = await handle();
    } catch (error) {
      return this.refuse(socket, ack, error);
    }
    ack?.(result);
  }

  /** A refused event: answered through the acknowledgement, or as an `error` event without one. */
  private refuse(socket: Socket, ack: AckFn, error: unknown): void {
    let body: ErrorPayload;
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
