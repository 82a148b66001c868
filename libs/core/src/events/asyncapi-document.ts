// Builds the AsyncAPI 3 document of the streaming protocol from the event schemas: the Socket.IO namespace /chat
// (client events with their acknowledgements, server events) and the two SSE endpoints that carry the run events.
import { CLIENT_EVENT_EXAMPLES, CLIENT_ACK_EXAMPLES, SERVER_EVENT_EXAMPLES } from './event-examples';
import { CLIENT_ACK_SCHEMAS, CLIENT_EVENT_SCHEMAS, SERVER_EVENT_SCHEMAS } from './event-schemas';
import type { JsonSchema } from './json-schema';
import { ClientEventName, RUN_EVENT_NAMES, ServerEventName } from './server-events';

// From the schema records, whose keys the compiler holds to the maps: no event of a map can be left out.
const SERVER_EVENT_NAMES = Object.keys(SERVER_EVENT_SCHEMAS) as ServerEventName[];
const CLIENT_EVENT_NAMES = Object.keys(CLIENT_EVENT_SCHEMAS) as ClientEventName[];

export interface AsyncApiTarget {
  /** `host[:port]` clients reach the API at. */
  host: string;
  /** Served over TLS (wss/https). */
  secure: boolean;
}

type Ref = { $ref: string };
export type AsyncApiDocument = {
  asyncapi: '3.0.0';
  info: { title: string; version: string; description: string };
  defaultContentType: string;
  servers: Record<string, Record<string, unknown>>;
  channels: Record<string, AsyncApiChannel>;
  operations: Record<string, AsyncApiOperation>;
  components: {
    schemas: Record<string, JsonSchema>;
    messages: Record<string, AsyncApiMessage>;
    securitySchemes: Record<string, Record<string, unknown>>;
  };
};
export interface AsyncApiChannel {
  address: string | null;
  title: string;
  description: string;
  servers: Ref[];
  messages: Record<string, Ref>;
  parameters?: Record<string, { description: string }>;
}
export interface AsyncApiOperation {
  action: 'send' | 'receive';
  title: string;
  summary: string;
  description?: string;
  channel: Ref;
  messages: Ref[];
  reply?: { channel: Ref; messages: Ref[] };
  bindings?: Record<string, unknown>;
}
export interface AsyncApiMessage {
  name: string;
  title: string;
  summary: string;
  payload: Ref;
  examples: { name: string; payload: unknown }[];
}

const SOCKET_CHANNEL = 'chat';
const ACK_CHANNEL = 'chatAcknowledgements';
const SSE_CHAT_CHANNEL = 'chatStream';
const SSE_EVENTS_CHANNEL = 'conversationEvents';

const pascal = (name: string) =>
  name.replace(/(^|_)([a-z])/g, (_, _sep: string, c: string) => c.toUpperCase());
const serverMessageId = (name: ServerEventName) => name;
const clientMessageId = (name: ClientEventName) => `client_${name}`;
const ackMessageId = (name: ClientEventName) => `${name}_ack`;
const channelMessage = (channel: string, message: string): Ref => ({
  $ref: `#/channels/${channel}/messages/${message}`,
});
const componentMessage = (message: string): Ref => ({ $ref: `#/components/messages/${message}` });

const SOCKET_SERVER_DESCRIPTION =
  'Socket.IO 4 (websocket or HTTP long-polling transport) at the default path `/socket.io`.';
const SOCKET_DESCRIPTION = [
  'Connect with `io(URL + "/chat", {auth: {token: "<api key>"}})`; a bad, missing or revoked key fails the ' +
    'connection with `connect_error` message `unauthorized` (a socket whose key is revoked later gets an `error` ' +
    '`{type: "unauthorized"}` and is disconnected).',
  'Every client event works with or without an acknowledgement callback. A refused event is answered ' +
    '`{error: {type, message}}` through the callback, or as an `error` event when there is none; a bad event ' +
    'never closes the socket.',
].join('\n\n');

const SSE_FRAME_DESCRIPTION =
  'Each event is one Server-Sent Events frame: `id: <seq>`, `event: <name>`, `data: <payload as JSON>` ' +
  '(the same payload as the Socket.IO event of that name), then a blank line. Comment lines (`: heartbeat`) ' +
  'keep the connection open.';

/** The AsyncAPI 3.0 document of the streaming protocol, for clients that reach the API at `target`. */
export function buildAsyncApiDocument(target: AsyncApiTarget): AsyncApiDocument {
  const schemas: Record<string, JsonSchema> = {};
  const messages: Record<string, AsyncApiMessage> = {};
  const addMessage = (
    id: string,
    schemaName: string,
    message: Omit<AsyncApiMessage, 'payload' | 'examples'>,
    schema: JsonSchema,
    example: unknown,
  ) => {
    schemas[schemaName] = schema;
    messages[id] = {
      ...message,
      payload: { $ref: `#/components/schemas/${schemaName}` },
      examples: [{ name: message.name, payload: example }],
    };
  };
  for (const name of SERVER_EVENT_NAMES) {
    const schema = SERVER_EVENT_SCHEMAS[name];
    addMessage(
      serverMessageId(name),
      `${pascal(name)}Payload`,
      { name, title: `${name} (server → client)`, summary: schema.description ?? name },
      schema,
      SERVER_EVENT_EXAMPLES[name],
    );
  }
  for (const name of CLIENT_EVENT_NAMES) {
    const schema = CLIENT_EVENT_SCHEMAS[name];
    addMessage(
      clientMessageId(name),
      `${pascal(name)}Request`,
      { name, title: `${name} (client → server)`, summary: schema.description ?? name },
      schema,
      CLIENT_EVENT_EXAMPLES[name],
    );
    addMessage(
      ackMessageId(name),
      `${pascal(name)}Ack`,
      {
        name: `${name} acknowledgement`,
        title: `${name} acknowledgement`,
        summary: `What the acknowledgement callback of \`${name}\` receives: accepted, or \`{error}\`.`,
      },
      CLIENT_ACK_SCHEMAS[name],
      CLIENT_ACK_EXAMPLES[name],
    );
  }

  const refs = (ids: string[]) => Object.fromEntries(ids.map((id) => [id, componentMessage(id)]));
  const runEventIds = RUN_EVENT_NAMES.map(serverMessageId);
  const channels: Record<string, AsyncApiChannel> = {
    [SOCKET_CHANNEL]: {
      address: '/chat',
      title: 'Socket.IO namespace /chat',
      description: SOCKET_DESCRIPTION,
      servers: [{ $ref: '#/servers/socket' }],
      messages: refs([
        ...CLIENT_EVENT_NAMES.map(clientMessageId),
        ...SERVER_EVENT_NAMES.map(serverMessageId),
      ]),
    },
    [ACK_CHANNEL]: {
      address: null,
      title: 'Acknowledgements on /chat',
      description:
        "A Socket.IO acknowledgement: the value passed to the client event's callback (the last argument of " +
        '`socket.emit(event, payload, callback)`, or what `emitWithAck` resolves to).',
      servers: [{ $ref: '#/servers/socket' }],
      messages: refs(CLIENT_EVENT_NAMES.map(ackMessageId)),
    },
    [SSE_CHAT_CHANNEL]: {
      address: '/v1/chat/stream',
      title: 'POST /v1/chat/stream',
      description:
        'Starts a run from a `ChatRequest` body (see the OpenAPI document at /docs; it accepts `on_disconnect` and ' +
        "`multitask_strategy` like the socket `message`) and answers `text/event-stream` with that run's events, " +
        'from `run_started` to `done` or `error`. ' +
        SSE_FRAME_DESCRIPTION +
        ' A dropped stream is resumed with `GET /v1/conversations/{conversation_id}/events` and `Last-Event-ID` ' +
        'set to the last `id:` received.',
      servers: [{ $ref: '#/servers/sse' }],
      messages: refs(runEventIds),
    },
    [SSE_EVENTS_CHANNEL]: {
      address: '/v1/conversations/{conversation_id}/events',
      title: 'GET /v1/conversations/{conversation_id}/events',
      description:
        "The conversation's retained events after the `Last-Event-ID` header (or the `after_seq` query), then its " +
        'live events, later runs included, until the client closes: no gap, no duplicate, whichever instance runs ' +
        'the run. Without either, live events only. ' +
        SSE_FRAME_DESCRIPTION +
        ' Events stay replayable for `RUN_EVENTS_RETENTION_SECONDS` (default 900).',
      servers: [{ $ref: '#/servers/sse' }],
      parameters: { conversation_id: { description: "A conversation of the caller's tenant (UUID)." } },
      messages: refs(runEventIds),
    },
  };

  const operations: Record<string, AsyncApiOperation> = {};
  for (const name of CLIENT_EVENT_NAMES) {
    operations[`receive_${name}`] = {
      action: 'receive',
      title: `Client sends ${name}`,
      summary: CLIENT_EVENT_SCHEMAS[name].description ?? name,
      channel: { $ref: `#/channels/${SOCKET_CHANNEL}` },
      messages: [channelMessage(SOCKET_CHANNEL, clientMessageId(name))],
      reply: {
        channel: { $ref: `#/channels/${ACK_CHANNEL}` },
        messages: [channelMessage(ACK_CHANNEL, ackMessageId(name))],
      },
    };
  }
  for (const name of SERVER_EVENT_NAMES) {
    operations[`send_${name}`] = {
      action: 'send',
      title: `Server sends ${name}`,
      summary: SERVER_EVENT_SCHEMAS[name].description ?? name,
      channel: { $ref: `#/channels/${SOCKET_CHANNEL}` },
      messages: [channelMessage(SOCKET_CHANNEL, serverMessageId(name))],
    };
  }
  operations.stream_chat = {
    action: 'send',
    title: 'POST /v1/chat/stream',
    summary: "A new run's events over Server-Sent Events.",
    channel: { $ref: `#/channels/${SSE_CHAT_CHANNEL}` },
    messages: runEventIds.map((id) => channelMessage(SSE_CHAT_CHANNEL, id)),
    bindings: { http: { method: 'POST', bindingVersion: '0.3.0' } },
  };
  operations.stream_conversation_events = {
    action: 'send',
    title: 'GET /v1/conversations/{conversation_id}/events',
    summary: "A conversation's events over Server-Sent Events, resumable with Last-Event-ID.",
    channel: { $ref: `#/channels/${SSE_EVENTS_CHANNEL}` },
    messages: runEventIds.map((id) => channelMessage(SSE_EVENTS_CHANNEL, id)),
    bindings: {
      http: {
        method: 'GET',
        query: {
          type: 'object',
          properties: {
            after_seq: {
              type: 'integer',
              minimum: 0,
              description: 'Replay the retained events after this `seq` (the `Last-Event-ID` header wins).',
            },
          },
        },
        bindingVersion: '0.3.0',
      },
    },
  };

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Agent backend streams',
      version: '2',
      description:
        'The streaming protocol of the agent backend: runs (turns) and tasks followed live over Socket.IO, and ' +
        'over Server-Sent Events. Every run event carries `conversation_id`, `run_id` and `seq`; the first event of ' +
        'a run is `run_started`, the last `done` or `error`. The REST API is described by the OpenAPI document at ' +
        '/docs-json.',
    },
    defaultContentType: 'application/json',
    servers: {
      socket: {
        host: target.host,
        protocol: target.secure ? 'wss' : 'ws',
        title: 'Socket.IO',
        description: SOCKET_SERVER_DESCRIPTION,
        security: [{ $ref: '#/components/securitySchemes/socketToken' }],
      },
      sse: {
        host: target.host,
        protocol: target.secure ? 'https' : 'http',
        title: 'Server-Sent Events',
        description: 'The REST API under /v1: `text/event-stream` answers.',
        security: [{ $ref: '#/components/securitySchemes/bearer' }],
      },
    },
    channels,
    operations,
    components: {
      schemas,
      messages,
      securitySchemes: {
        socketToken: {
          type: 'apiKey',
          in: 'user',
          description:
            'An API key in the Socket.IO handshake: `auth: {token: "<api key>"}` (not a header or a query parameter).',
        },
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: '`Authorization: Bearer <api key>`, as on every /v1 route.',
        },
      },
    },
  };
}
