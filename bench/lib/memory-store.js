// Preloaded into the production bundle for the "app without persistence" runs: ConversationStore's methods
// keep conversations in a Map (as the bare baselines do) instead of PostgreSQL. Everything else — Fastify,
// the guards, validation, the Redis lock and publisher, the SDK, the agent loop — is the shipped code.
// This exists only in the bench: the app has no such mode.
'use strict';
require('reflect-metadata');
const path = require('node:path');

const dist = path.resolve(process.env.BENCH_DIST || 'dist');
const { ConversationStore, titleFrom } = require(
  path.join(dist, 'libs/conversations/src/conversation-store.js'),
);
const { NotFoundError } = require(path.join(dist, 'libs/core/src/index.js'));

const conversations = new Map();
/** The newest conversations only, as in the baselines: a long run measures turns, not a growing heap. */
const MAX_CONVERSATIONS = 50_000;

function view(row) {
  return {
    id: row.id,
    tenantId: row.tenantId,
    agentName: row.agentName,
    title: row.title,
    status: 'active',
    temperature: row.temperature,
    maxIterations: row.maxIterations,
    metadata: row.metadata,
    messageCount: row.messages.length,
    inputTokens: row.inputTokens,
    outputTokens: row.outputTokens,
    costUsd: row.costUsd,
    costLimitUsd: row.costLimitUsd,
    createdAt: row.createdAt,
    lastMessageAt: row.lastMessageAt,
  };
}

function owned(tenantId, id) {
  const row = conversations.get(id);
  if (!row || row.tenantId !== tenantId) throw new NotFoundError(`Conversation ${id}`);
  return row;
}

function insert(tenantId, input) {
  const row = {
    id: input.id,
    tenantId,
    agentName: input.agentName,
    title: input.title ?? null,
    temperature: input.temperature ?? null,
    maxIterations: input.maxIterations ?? null,
    metadata: input.metadata ?? {},
    costLimitUsd: input.costLimitUsd ?? null,
    messages: [],
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    createdAt: new Date(),
    lastMessageAt: null,
  };
  conversations.set(row.id, row);
  if (conversations.size > MAX_CONVERSATIONS) conversations.delete(conversations.keys().next().value);
  return row;
}

const proto = ConversationStore.prototype;
proto.create = async function create(tenantId, input) {
  return view(insert(tenantId, input));
};
proto.ensure = async function ensure(tenantId, input) {
  if (conversations.has(input.id)) return false;
  insert(tenantId, input);
  return true;
};
proto.deleteIfEmpty = async function deleteIfEmpty(tenantId, id) {
  const row = conversations.get(id);
  if (row && row.tenantId === tenantId && !row.messages.length) conversations.delete(id);
};
proto.get = async function get(tenantId, id) {
  return view(owned(tenantId, id));
};
proto.history = async function history(tenantId, id) {
  const row = conversations.get(id);
  if (!row || row.tenantId !== tenantId) return [];
  return row.messages.map((m) => ({ role: m.role, content: m.content }));
};
proto.messages = async function messages(tenantId, id) {
  const row = conversations.get(id);
  if (!row || row.tenantId !== tenantId) return [];
  return row.messages.map((m) => ({ ...m }));
};
proto.delete = async function remove(tenantId, id) {
  owned(tenantId, id);
  conversations.delete(id);
};
proto.appendTurn = async function appendTurn(turn) {
  const row = owned(turn.tenantId, turn.conversationId);
  const messageIds = turn.messages.map(() => this.ids.uuid());
  turn.messages.forEach((m, i) =>
    row.messages.push({ id: messageIds[i], role: m.role, content: m.content, createdAt: new Date() }),
  );
  for (const c of turn.llmCalls) {
    row.inputTokens += c.input_tokens + c.cache_creation_input_tokens + c.cache_read_input_tokens;
    row.outputTokens += c.output_tokens;
    row.costUsd += c.cost_usd;
  }
  row.title ??= titleFrom(turn.messages);
  row.lastMessageAt = new Date();
  return { messageIds, conversation: view(row) };
};
proto.recordOrphanCalls = async function recordOrphanCalls() {};
