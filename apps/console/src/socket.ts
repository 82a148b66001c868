// The Socket.IO side of the contract (namespace /chat): acknowledged emits, and the resumable join.
import { io, Socket } from 'socket.io-client';
import { ApiError } from './api';

export function connectChat(key: string): Socket {
  // Same origin as the page; the key travels in the handshake's auth payload, never in the URL.
  return io('/chat', { auth: { token: key }, transports: ['websocket'] });
}

type Ack = Record<string, unknown> & { error?: { type?: string; message?: string; details?: unknown } };

export async function emitAck(socket: Socket, event: string, payload: Record<string, unknown>): Promise<Ack> {
  let ack: Ack;
  try {
    ack = (await socket.timeout(15_000).emitWithAck(event, payload)) as Ack;
  } catch {
    throw new ApiError(0, 'timeout', `The server did not acknowledge "${event}" in time.`);
  }
  if (ack?.error)
    throw new ApiError(
      0,
      ack.error.type ?? 'error',
      ack.error.message ?? `"${event}" was refused.`,
      ack.error.details,
    );
  return ack ?? {};
}

export interface JoinAck {
  conversation_id: string;
  /** Version 2 (runs): the conversation's latest seq, and the run going on now. */
  last_seq?: number;
  running_run_id?: string | null;
  replayed?: number;
  truncated?: boolean;
  /** Version 1: when the running turn started. */
  running_since?: string;
}

/**
 * Joins a conversation's room. With `afterSeq` a version 2 server replays the retained events after it; a version 1
 * server refuses the unknown field, and the join is retried for live events only.
 */
export async function joinConversation(
  socket: Socket,
  conversationId: string,
  afterSeq: number | null,
): Promise<JoinAck> {
  if (afterSeq !== null) {
    try {
      return (await emitAck(socket, 'join', {
        conversation_id: conversationId,
        after_seq: afterSeq,
      })) as unknown as JoinAck;
    } catch (error) {
      if (!(
        error instanceof ApiError &&
        error.type === 'validation_error' &&
        /after_seq/.test(`${error.message} ${JSON.stringify(error.details ?? '')}`)
      )) {
        throw error;
      }
    }
  }
  return (await emitAck(socket, 'join', { conversation_id: conversationId })) as unknown as JoinAck;
}
