// A real socket.io-client on the /chat namespace that records every server event in arrival order.
import { io, Socket } from 'socket.io-client';

export interface RecordedEvent {
  name: string;
  payload: any;
  at: number;
}

export interface TestSocket {
  socket: Socket;
  events: RecordedEvent[];
  /** Emits with an acknowledgement and resolves with what the server acknowledged. */
  call(event: string, payload: unknown): Promise<any>;
  /** Resolves when `predicate` holds for a recorded event (checks past events first). */
  waitFor(predicate: (event: RecordedEvent) => boolean, timeoutMs?: number): Promise<RecordedEvent>;
  named(name: string): RecordedEvent[];
  close(): void;
}

export async function connectSocket(url: string, token?: string): Promise<TestSocket> {
  const socket = io(`${url}/chat`, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  const events: RecordedEvent[] = [];
  const waiters = new Set<() => void>();
  socket.onAny((name: string, payload: unknown) => {
    events.push({ name, payload, at: performance.now() });
    for (const wake of waiters) wake();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => reject(error));
  });
  return {
    socket,
    events,
    call: (event, payload) => socket.timeout(5_000).emitWithAck(event, payload),
    named: (name) => events.filter((e) => e.name === name),
    waitFor: (predicate, timeoutMs = 5_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find(predicate);
          if (!found) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `No matching event within ${timeoutMs} ms; got: ${events.map((e) => e.name).join(', ')}`,
            ),
          );
        }, timeoutMs);
        if (!check()) waiters.add(check);
      }),
    close: () => socket.disconnect(),
  };
}

/** Connects and returns the error the handshake failed with. */
export async function connectError(url: string, token?: unknown): Promise<Error> {
  const socket = io(`${url}/chat`, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  try {
    return await new Promise<Error>((resolve, reject) => {
      socket.once('connect', () => reject(new Error('The handshake unexpectedly succeeded.')));
      socket.once('connect_error', (error) => resolve(error));
    });
  } finally {
    socket.disconnect();
  }
}
