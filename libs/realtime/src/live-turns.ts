// Runs a chat turn for any transport: its events go to the caller and to every client that joined the
// conversation (on any instance), it can be cancelled from anywhere, and it always ends with one terminal event.
import { Injectable, Logger } from '@nestjs/common';
import { DomainError, ServiceUnavailableError, ShutdownState } from '@lib/core';
import { ChatService, TurnEvent, TurnRequest } from '@lib/chat';
import { ConversationWatchers, TurnWatch } from './conversation-watchers';
import { RealtimePublisher } from './realtime-publisher';
import { TurnCancellations } from './turn-cancellations';

export interface TurnErrorEvent {
  type: 'error';
  error_type: string;
  message: string;
  /** The failure as a domain error, for a transport that answers with an HTTP status (REST). */
  error: DomainError;
}

export type LiveTurnEvent = TurnEvent | TurnErrorEvent;

export interface LiveTurn {
  conversationId: string;
  agentName: string;
  /** Consume it to run the turn; it ends after exactly one `done` or `error`. */
  events: AsyncGenerator<LiveTurnEvent>;
  /** Cancels the turn: it still ends with `done` and `stop_reason: "cancelled"`. */
  cancel(): void;
}

/** What a client sees of an event (every payload names its conversation). */
export function wirePayload(event: LiveTurnEvent): { name: string; payload: Record<string, unknown> } {
  switch (event.type) {
    case 'text':
      return { name: 'text', payload: { content: event.content } };
    case 'tool_start': {
      const { type: _type, ...payload } = event;
      return { name: 'tool_start', payload };
    }
    case 'tool_end': {
      const { type: _type, ...payload } = event;
      return { name: 'tool_end', payload };
    }
    case 'done':
      return {
        name: 'done',
        payload: {
          message_id: event.message_id,
          stop_reason: event.stop_reason,
          input_tokens: event.input_tokens,
          output_tokens: event.output_tokens,
          tokens_used: event.tokens_used,
          cache_read_input_tokens: event.cache_read_input_tokens,
          cache_creation_input_tokens: event.cache_creation_input_tokens,
          cost_usd: event.cost_usd,
          latency_ms: event.latency_ms,
        },
      };
    case 'error':
      return { name: 'error', payload: { type: event.error_type, message: event.message } };
  }
}

@Injectable()
export class LiveTurns {
  private readonly logger = new Logger(LiveTurns.name);

  constructor(
    private readonly chat: ChatService,
    private readonly publisher: RealtimePublisher,
    private readonly cancellations: TurnCancellations,
    private readonly shutdown: ShutdownState,
    private readonly watchers: ConversationWatchers,
  ) {}

  /**
   * Starts a turn (404, 400 and 409 are thrown here, before any event) and returns its event stream.
   * `signal` (a client that went away) cancels it like a `cancel` event does. While the process drains for a
   * shutdown, new turns are refused with `service_unavailable`. Events are published to the conversation's room
   * only while some socket follows it: `followedInRoom` says the caller itself follows the turn there (a socket).
   */
  async start(
    request: Omit<TurnRequest, 'signal'>,
    { signal, followedInRoom = false }: { signal?: AbortSignal; followedInRoom?: boolean } = {},
  ): Promise<LiveTurn> {
    if (this.shutdown.draining) {
      // Refused before anything is taken: the client retries and the load balancer picks another instance.
      throw new ServiceUnavailableError(
        'This instance is shutting down and starts no new turns; retry, and another instance will run it.',
        1,
      );
    }
    const controller = new AbortController();
    if (signal) {
      if (signal.aborted) controller.abort();
      else signal.addEventListener('abort', () => controller.abort(), { once: true });
    }
    const turn = await this.chat.start({ ...request, signal: controller.signal });
    const unregister = this.cancellations.register(turn.conversationId, controller);
    // Never fails: an unknown watcher set counts as watched.
    const watch = await this.watchers.track(turn.conversationId, {
      followedHere: followedInRoom,
      isNew: turn.isNewConversation,
    });
    return {
      conversationId: turn.conversationId,
      agentName: turn.agentName,
      events: this.follow(
        turn.conversationId,
        turn.events,
        () => {
          watch.release();
          unregister();
        },
        watch,
      ),
      cancel: () => controller.abort(),
    };
  }

  private async *follow(
    conversationId: string,
    events: AsyncGenerator<TurnEvent>,
    unregister: () => void,
    watch: TurnWatch,
  ): AsyncGenerator<LiveTurnEvent> {
    try {
      for await (const event of events) {
        this.publish(conversationId, event, watch);
        yield event;
      }
    } catch (error) {
      let failure: TurnErrorEvent;
      if (error instanceof DomainError) {
        const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
        this.logger.warn(
          `Turn on conversation ${conversationId} failed with ${error.type}: ${error.message}${cause}`,
        );
        failure = { type: 'error', error_type: error.type, message: error.message, error };
      } else {
        this.logger.error({ err: error }, `Turn on conversation ${conversationId} failed`);
        const message = 'The turn failed because of an internal error.';
        failure = {
          type: 'error',
          error_type: 'internal_error',
          message,
          error: new DomainError('internal_error', message),
        };
      }
      this.publish(conversationId, failure, watch);
      yield failure;
    } finally {
      unregister();
    }
  }

  /** Through Redis when a follower is elsewhere, by a local emit when all are here, not at all without any. */
  private publish(conversationId: string, event: LiveTurnEvent, watch: TurnWatch): void {
    if (!watch.remote && !watch.local) return;
    const { name, payload } = wirePayload(event);
    if (watch.remote) this.publisher.toConversation(conversationId, name, payload);
    else this.publisher.toConversationHere(conversationId, name, payload);
  }
}
