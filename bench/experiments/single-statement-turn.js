// Experiment: a turn stored in one SQL statement (one round trip instead of BEGIN, SELECT … FOR UPDATE, two
// INSERTs, UPDATE, COMMIT), and no history query for a conversation this turn has just created.
'use strict';
require('reflect-metadata');
const path = require('node:path');

const dist = path.resolve(process.env.BENCH_DIST || 'dist');
const { ConversationStore, titleFrom } = require(
  path.join(dist, 'libs/conversations/src/conversation-store.js'),
);
const { NotFoundError } = require(path.join(dist, 'libs/core/src/index.js'));

const APPEND_TURN = `
WITH conv AS (
  SELECT message_count FROM conversations WHERE id = $1 AND tenant_id = $2 FOR UPDATE
), msgs AS (
  INSERT INTO messages (id, conversation_id, seq, role, content)
  SELECT m.id, $1, conv.message_count + m.ord - 1, m.role, m.content
    FROM conv, unnest($3::uuid[], $4::text[], $5::jsonb[]) WITH ORDINALITY AS m(id, role, content, ord)
), calls AS (
  INSERT INTO llm_calls (id, tenant_id, conversation_id, agent_name, model, input_tokens, output_tokens,
    cache_creation_input_tokens, cache_read_input_tokens, cost_usd, latency_ms, time_to_first_token_ms, stop_reason)
  SELECT c.id, $2, $1, $6, c.model, c.input_tokens, c.output_tokens, c.cache_creation_input_tokens,
         c.cache_read_input_tokens, c.cost_usd, c.latency_ms, c.time_to_first_token_ms, c.stop_reason
    FROM conv, jsonb_to_recordset($7::jsonb) AS c(id uuid, model text, input_tokens int, output_tokens int,
      cache_creation_input_tokens int, cache_read_input_tokens int, cost_usd numeric, latency_ms int,
      time_to_first_token_ms int, stop_reason text)
)
UPDATE conversations SET
  message_count = message_count + $8, input_tokens = input_tokens + $9, output_tokens = output_tokens + $10,
  cost_usd = cost_usd + $11, title = COALESCE(title, $12), last_message_at = now(), last_activity_at = now()
WHERE id = $1 AND tenant_id = $2 AND EXISTS (SELECT 1 FROM conv)
RETURNING *`;

function view(row) {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    agentName: row.agent_name,
    title: row.title,
    status: row.status,
    temperature: row.temperature,
    maxIterations: row.max_iterations,
    metadata: row.metadata,
    messageCount: row.message_count,
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    costUsd: Number(row.cost_usd),
    costLimitUsd: row.cost_limit_usd === null ? null : Number(row.cost_limit_usd),
    createdAt: new Date(row.created_at),
    lastMessageAt: row.last_message_at ? new Date(row.last_message_at) : null,
  };
}

const created = new Set();
const proto = ConversationStore.prototype;
const ensure = proto.ensure;
proto.ensure = async function ensureAndRemember(tenantId, input) {
  const isNew = await ensure.call(this, tenantId, input);
  if (isNew) created.add(input.id);
  return isNew;
};
const history = proto.history;
proto.history = async function historyUnlessNew(tenantId, conversationId) {
  if (created.delete(conversationId)) return [];
  return history.call(this, tenantId, conversationId);
};
proto.appendTurn = async function appendTurn(turn) {
  const ids = turn.messages.map(() => this.ids.uuid());
  const calls = turn.llmCalls.map((c) => ({ id: this.ids.uuid(), ...c }));
  const input = calls.reduce(
    (n, c) => n + c.input_tokens + c.cache_creation_input_tokens + c.cache_read_input_tokens,
    0,
  );
  const output = calls.reduce((n, c) => n + c.output_tokens, 0);
  const cost = calls.reduce((n, c) => n + c.cost_usd, 0);
  const rows = await this.dataSource.query(APPEND_TURN, [
    turn.conversationId,
    turn.tenantId,
    ids,
    turn.messages.map((m) => m.role),
    turn.messages.map((m) => JSON.stringify(m.content)),
    turn.agentName,
    JSON.stringify(calls),
    turn.messages.length,
    input,
    output,
    cost,
    titleFrom(turn.messages),
  ]);
  if (!rows.length) throw new NotFoundError(`Conversation ${turn.conversationId}`);
  return { messageIds: ids, conversation: view(rows[0]) };
};
