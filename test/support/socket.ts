// A real socket.io-client on the /chat namespace that records every server event in arrival order. The socket is
// typed by the event map of libs/core (ServerEventMap, ClientEventMap, ClientAckMap), so a test that emits or
// listens to an event the protocol does not have, or with the wrong payload, does not compile.
import { io, Socket } from 'socket.io-client';
import type {
  ClientAckMap,
  ClientEventMap,
  ClientEventName,
  ErrorPayload,
  ServerEventMap,
  ServerEventName,
} from '@lib/core';

/** Server → client events as socket.io-client listens to them. */
export type ServerEvents = { [Name in ServerEventName]: (payload: ServerEventMap[Name]) => void };
/** What a client event's acknowledgement receives: accepted, or refused. */
export type ClientAck<Name extends ClientEventName> = ClientAckMap[Name] | { error: ErrorPayload };
/** Client → server events as socket.io-client emits them, each with or without an acknowledgement callback. */
export type ClientEvents = {
  [Name in ClientEventName]: (payload: ClientEventMap[Name], ack?: (answer: ClientAck<Name>) => void) => void;
};
export type ChatSocket = Socket<ServerEvents, ClientEvents>;

export interface RecordedEvent {
  name: string;
  payload: any;
  at: number;
}

export interface TestSocket {
  socket: ChatSocket;
  /** The same socket without the map's types: for sending what the protocol does not allow. */
  untyped: Socket;
  events: RecordedEvent[];
  /** Emits with an acknowledgement and resolves with what the server acknowledged. */
  call(event: string, payload: unknown): Promise<any>;
  /** `call`, typed by the map: a client event and its payload, answered by its acknowledgement. */
  ack<Name extends ClientEventName>(event: Name, payload: ClientEventMap[Name]): Promise<ClientAck<Name>>;
  /** The payloads of one server event received so far, typed by the map. */
  received<Name extends ServerEventName>(name: Name): ServerEventMap[Name][];
  /** Resolves with the first payload of `name` (past or future) for which `predicate` holds. */
  next<Name extends ServerEventName>(
    name: Name,
    predicate?: (payload: ServerEventMap[Name]) => boolean,
    timeoutMs?: number,
  ): Promise<ServerEventMap[Name]>;
  /** Resolves when `predicate` holds for a recorded event (checks past events first). */
  waitFor(predicate: (event: RecordedEvent) => boolean, timeoutMs?: number): Promise<RecordedEvent>;
  named(name: string): RecordedEvent[];
  close(): void;
}

export async function connectSocket(url: string, token?: string): Promise<TestSocket> {
  const socket: ChatSocket = io(`${url}/chat`, {
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
  const untyped = socket as unknown as Socket;
  const named = (name: string) => events.filter((e) => e.name === name);
  const waitFor: TestSocket['waitFor'] = (predicate, timeoutMs = 5_000) =>
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
          new Error(`No matching event within ${timeoutMs} ms; got: ${events.map((e) => e.name).join(', ')}`),
        );
      }, timeoutMs);
      if (!check()) waiters.add(check);
    });
  return {
    socket,
    untyped,
    events,
    call: (event, payload) => untyped.timeout(5_000).emitWithAck(event, payload),
    ack: (event, payload) => untyped.timeout(5_000).emitWithAck(event, payload),
    named,
    received: (name) => named(name).map((e) => e.payload),
    next: async (name, predicate = () => true, timeoutMs) =>
      (await waitFor((e) => e.name === name && predicate(e.payload), timeoutMs)).payload,
    waitFor,
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
