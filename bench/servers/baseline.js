// The bare baselines: node:http with history in a Map, making the same provider call as the app (same
// model, system prompt, tool list and streaming) either with undici directly or through the official SDK.
// Routes mirror the app's: POST /v1/chat, POST /v1/chat/stream (SSE) and Socket.IO namespace /chat.
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const { randomUUID } = require('node:crypto');
const { Server } = require('socket.io');
const { serve, ready } = require('../lib/child');

const CLIENT = process.env.BASELINE_CLIENT || 'undici';
const PROVIDER_URL = process.env.PROVIDER_URL;
const KEY = process.env.BENCH_API_KEY;
const shape = JSON.parse(fs.readFileSync(process.env.BENCH_REQUEST_SHAPE, 'utf8'));
const MAX_ITERATIONS = 6;

const conversations = new Map();
// Every REST turn of the bench starts a conversation: keep the newest ones only, so that a long run measures
// turns rather than the garbage collector walking an ever larger Map (the app's store is PostgreSQL).
const MAX_CONVERSATIONS = 10_000;

/** One streamed Messages API call; `onText` gets each text delta as it arrives. */
let callModel;
if (CLIENT === 'undici') {
  const { Agent, request } = require('undici');
  const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: null });
  callModel = async (messages, onText) => {
    const { statusCode, body } = await request(`${PROVIDER_URL}/v1/messages`, {
      method: 'POST',
      dispatcher,
      headers: {
        'content-type': 'application/json',
        'x-api-key': 'sk-ant-bench',
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify({
        model: shape.model,
        max_tokens: shape.maxTokens,
        system: shape.system,
        messages,
        tools: shape.tools,
        stream: true,
      }),
    });
    if (statusCode !== 200) throw new Error(`provider answered ${statusCode}: ${await body.text()}`);
    body.setEncoding('utf8');
    const blocks = [];
    let stopReason = 'end_turn';
    let buffer = '';
    for await (const chunk of body) {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const dataAt = frame.indexOf('data: ');
        if (dataAt === -1) continue;
        const event = JSON.parse(frame.slice(dataAt + 6));
        switch (event.type) {
          case 'content_block_start':
            blocks[event.index] =
              event.content_block.type === 'tool_use'
                ? { type: 'tool_use', id: event.content_block.id, name: event.content_block.name, json: '' }
                : { type: 'text', text: '' };
            break;
          case 'content_block_delta':
            if (event.delta.type === 'text_delta') {
              blocks[event.index].text += event.delta.text;
              onText(event.delta.text);
            } else if (event.delta.type === 'input_json_delta') {
              blocks[event.index].json += event.delta.partial_json;
            }
            break;
          case 'message_delta':
            stopReason = event.delta.stop_reason;
            break;
          case 'error':
            throw new Error(event.error.message);
          default:
            break;
        }
      }
    }
    const content = blocks.map((b) =>
      b.type === 'tool_use'
        ? { type: 'tool_use', id: b.id, name: b.name, input: JSON.parse(b.json || '{}') }
        : b,
    );
    return { content, stopReason };
  };
} else {
  const Anthropic = require('@anthropic-ai/sdk').default;
  const client = new Anthropic({ apiKey: 'sk-ant-bench', baseURL: PROVIDER_URL, maxRetries: 0 });
  callModel = async (messages, onText) => {
    const stream = client.messages.stream({
      model: shape.model,
      max_tokens: shape.maxTokens,
      system: shape.system,
      messages,
      tools: shape.tools,
    });
    for await (const event of stream) {
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') onText(event.delta.text);
    }
    const message = await stream.finalMessage();
    return { content: message.content, stopReason: message.stop_reason };
  };
}

/** The calculator's answer for the one expression the fake asks for; enough for a baseline. */
function runTool(use) {
  return JSON.stringify({ expression: use.input.expression, result: 1404 });
}

/** The agent loop, bare: model call, tools, model call…; the turn is appended to the Map at the end. */
async function runTurn(conversation, message, emit) {
  const turn = [{ role: 'user', content: message }];
  let response = '';
  const toolsUsed = [];
  let stopReason = 'end_turn';
  for (let i = 0; i < MAX_ITERATIONS; i++) {
    const result = await callModel([...conversation.messages, ...turn], (text) => {
      response += text;
      emit('text', { content: text });
    });
    turn.push({ role: 'assistant', content: result.content });
    const uses = result.content.filter((b) => b.type === 'tool_use');
    stopReason = result.stopReason;
    if (!uses.length) break;
    const results = uses.map((use) => {
      emit('tool_start', { tool_name: use.name, tool_use_id: use.id, arguments: use.input });
      const content = runTool(use);
      emit('tool_end', { tool_name: use.name, tool_use_id: use.id, duration_ms: 0, is_error: false });
      toolsUsed.push({ tool_name: use.name, arguments: use.input, result_summary: content.slice(0, 200) });
      return { type: 'tool_result', tool_use_id: use.id, content };
    });
    turn.push({ role: 'user', content: results });
  }
  conversation.messages.push(...turn);
  const messageId = randomUUID();
  return { response, toolsUsed, stopReason, messageId };
}

function conversationFor(id) {
  if (id) {
    const existing = conversations.get(id);
    if (existing) return existing;
  }
  const conversation = { id: id || randomUUID(), messages: [] };
  conversations.set(conversation.id, conversation);
  if (conversations.size > MAX_CONVERSATIONS) conversations.delete(conversations.keys().next().value);
  return conversation;
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

function sendJson(res, status, body) {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

async function handle(req, res) {
  if (req.method === 'GET' && req.url === '/health/live') return sendJson(res, 200, { status: 'ok' });
  if (req.headers.authorization !== `Bearer ${KEY}`) {
    return sendJson(res, 401, { error: { type: 'unauthorized', message: 'The API key is not valid.' } });
  }
  if (req.method !== 'POST' || (req.url !== '/v1/chat' && req.url !== '/v1/chat/stream')) {
    return sendJson(res, 404, { error: { type: 'not_found', message: 'No such route.' } });
  }
  let body;
  try {
    body = await readJson(req);
  } catch {
    return sendJson(res, 400, { error: { type: 'validation_error', message: 'Malformed JSON.' } });
  }
  if (typeof body.message !== 'string' || !body.message.length || body.message.length > 10_000) {
    return sendJson(res, 400, { error: { type: 'validation_error', message: 'message is required.' } });
  }
  const conversation = conversationFor(body.conversation_id);
  const startedAt = performance.now();
  if (req.url === '/v1/chat') {
    const turn = await runTurn(conversation, body.message, () => undefined);
    return sendJson(res, 200, {
      response: turn.response,
      conversation_id: conversation.id,
      message_id: turn.messageId,
      agent_name: 'support',
      tools_used: turn.toolsUsed,
      stop_reason: turn.stopReason,
      latency_ms: Math.round(performance.now() - startedAt),
    });
  }
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.flushHeaders();
  const turn = await runTurn(conversation, body.message, (name, payload) => {
    res.write(
      `event: ${name}\ndata: ${JSON.stringify({ conversation_id: conversation.id, ...payload })}\n\n`,
    );
  });
  res.end(
    `event: done\ndata: ${JSON.stringify({
      conversation_id: conversation.id,
      message_id: turn.messageId,
      stop_reason: turn.stopReason,
      latency_ms: Math.round(performance.now() - startedAt),
    })}\n\n`,
  );
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    process.stderr.write(`${error.stack}\n`);
    if (!res.headersSent) sendJson(res, 502, { error: { type: 'upstream_error', message: error.message } });
    else res.destroy();
  });
});
server.keepAliveTimeout = 65_000;

// The same Socket.IO surface as the app's gateway, on the default in-memory adapter.
const io = new Server(server, { perMessageDeflate: false, cookie: false, maxHttpBufferSize: 65_536 });
const chat = io.of('/chat');
chat.use((socket, next) => (socket.handshake.auth.token === KEY ? next() : next(new Error('unauthorized'))));
chat.on('connection', (socket) => {
  socket.on('message', (payload, ack) => {
    if (!payload || typeof payload.message !== 'string') {
      return ack?.({ error: { type: 'validation_error', message: 'message is required.' } });
    }
    const conversation = conversationFor(payload.conversation_id);
    const room = `conversation:${conversation.id}`;
    socket.join(room);
    ack?.({ conversation_id: conversation.id });
    const startedAt = performance.now();
    runTurn(conversation, payload.message, (name, data) =>
      chat.to(room).emit(name, { conversation_id: conversation.id, ...data }),
    ).then(
      (turn) =>
        chat.to(room).emit('done', {
          conversation_id: conversation.id,
          message_id: turn.messageId,
          stop_reason: turn.stopReason,
          latency_ms: Math.round(performance.now() - startedAt),
        }),
      (error) =>
        chat.to(room).emit('error', {
          conversation_id: conversation.id,
          type: 'upstream_error',
          message: error.message,
        }),
    );
  });
});

serve({ stats: () => ({ conversations: conversations.size, sockets: chat.sockets.size }) });
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => ready({ port: server.address().port }));
process.on('SIGTERM', () => {
  io.close();
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
