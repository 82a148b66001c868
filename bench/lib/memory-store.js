// Preloaded into the production bundle for the "app without persistence" runs: ConversationStore's and
// RunRepository's methods keep conversations and runs in Maps (as the bare baselines do) instead of
// PostgreSQL. Everything else — Fastify, the guards, validation, the Redis lock, the run event log in Redis,
// the SDK, the agent loop — is the shipped code.
// This exists only in the bench: the app has no such mode.
'use strict';
require('reflect-metadata');
const path = require('node:path');

const dist = path.resolve(process.env.BENCH_DIST || 'dist');
const { ConversationStore, titleFrom } = require(
  path.join(dist, 'libs/conversations/src/conversation-store.js'),
);
const { RunRepository } = require(path.join(dist, 'libs/runs/src/run-repository.js'));
const { RunJournal } = require(path.join(dist, 'libs/runs/src/run-journal.js'));
const { NotFoundError } = require(path.join(dist, 'libs/core/src/index.js'));

const conversations = new Map();
/** The newest conversations only, as in the baselines: a long run measures turns, not a growing heap. */
const MAX_CONVERSATIONS = 50_000;

function view(row) {
  return {
    id: row.id,
    tenantId: row.tenantId,
    agentName: row.agentName,
    agentPin: row.agentPin,
    requireApproval: row.requireApproval,
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
    agentPin: input.agentPin ?? null,
    requireApproval: input.requireApproval ?? [],
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
/** A turn's running run, inserted as RunRepository.insert does (ConversationStore's statements that insert it). */
function startRun(birth, tenantId, conversationId, agentName, fence) {
  return RunRepository.prototype.insert.call(null, {
    ...birth,
    tenantId,
    conversationId,
    agentName,
    status: 'running',
    fence,
  });
}
proto.ensureWithRun = async function ensureWithRun(tenantId, input, birth, fence) {
  if (conversations.has(input.id)) return false;
  insert(tenantId, input);
  await startRun(birth, tenantId, input.id, input.agentName, fence);
  return true;
};
proto.historyWithRun = async function historyWithRun(tenantId, id, agentName, birth, fence) {
  const history = await proto.history.call(this, tenantId, id);
  return { history, runInserted: await startRun(birth, tenantId, id, agentName, fence) };
};
proto.removeRun = async function removeRun(runId) {
  runs.delete(runId);
  open.delete(runId);
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
  if (!turn.run) return { messageIds, costUsd: row.costUsd };
  // A run's turn: its last journal steps and its end, as the SQL's CTE writes them with the turn.
  const { id, steps: rows, ...ending } = turn.run;
  for (const step of rows) journalOf(id).push({ kind: step.kind, ...step.data });
  const run = await RunRepository.prototype.finish.call(null, id, { ...ending, error: null }, turn.fence);
  return { messageIds, costUsd: row.costUsd, run };
};
proto.recordOrphanCalls = async function recordOrphanCalls() {};

// ------------------------------------------------------------------------------------------------ runs

const runs = new Map();
/** Each run's journal of completed steps (RunJournal's rows), kept with the run. */
const steps = new Map();
/** Runs not finished yet (queued, running, requires_action), so the reconciler never scans every run. */
const open = new Set();
const copy = (run) => ({ ...run });
const isOpen = (status) => status === 'queued' || status === 'running' || status === 'requires_action';

const runProto = RunRepository.prototype;
runProto.insert = async function insert(run) {
  // A conversation whose run waits for a decision takes no new running run (as the SQL's NOT EXISTS).
  if (run.status !== 'queued' && openOf(run.conversationId, ['requires_action']).length) return false;
  const now = new Date();
  runs.set(run.id, {
    id: run.id,
    tenantId: run.tenantId,
    conversationId: run.conversationId,
    agentName: run.agentName,
    source: run.source,
    status: run.status,
    stopReason: null,
    error: null,
    message: run.message,
    apiKeyId: run.apiKeyId,
    taskId: run.taskId,
    priority: run.priority ?? 0,
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    lastSeq: 0,
    createdAt: now,
    startedAt: run.status === 'running' ? now : null,
    finishedAt: null,
    fence: run.fence ?? null,
    resumes: 0,
  });
  open.add(run.id);
  if (runs.size > MAX_CONVERSATIONS) {
    const oldest = runs.keys().next().value;
    runs.delete(oldest);
    open.delete(oldest);
    steps.delete(oldest);
  }
  return true;
};
runProto.byId = async function byId(id) {
  const run = runs.get(id);
  return run ? copy(run) : null;
};
runProto.claimForExecution = async function claimForExecution(id, fence, reopenFailed, byReconciler = false) {
  const run = runs.get(id);
  if (!run) return null;
  const claimable =
    run.status === 'running' || (reopenFailed && run.status === 'failed') || run.status === 'requires_action';
  if (!claimable) return null;
  Object.assign(run, {
    status: 'running',
    stopReason: null,
    error: null,
    finishedAt: null,
    startedAt: run.startedAt ?? new Date(),
    fence,
    resumes: run.resumes + (byReconciler ? 1 : 0),
  });
  open.add(id);
  return copy(run);
};
runProto.waiting = async function waiting(conversationId) {
  const [run] = openOf(conversationId, ['requires_action']);
  return run ? copy(run) : null;
};
runProto.pause = async function pause(id, totals, fence) {
  const run = runs.get(id);
  if (!run || run.status !== 'running' || (run.fence !== null && run.fence > fence)) return false;
  Object.assign(run, {
    status: 'requires_action',
    stopReason: 'requires_approval',
    inputTokens: totals.inputTokens,
    outputTokens: totals.outputTokens,
    costUsd: totals.costUsd,
    lastSeq: Math.max(run.lastSeq, totals.lastSeq),
  });
  return true;
};
runProto.claimWaiting = async function claimWaiting(id) {
  const run = runs.get(id);
  if (!run || run.status !== 'requires_action') return null;
  Object.assign(run, { status: 'running', stopReason: null });
  return copy(run);
};
/** Cancels the run if it is in `status` (the SQL's conditional UPDATE); null otherwise. */
function cancelIf(id, status) {
  const run = runs.get(id);
  if (!run || run.status !== status) return null;
  Object.assign(run, { status: 'cancelled', stopReason: 'cancelled', finishedAt: new Date() });
  open.delete(id);
  return copy(run);
}
runProto.cancelWaiting = async function cancelWaiting(id) {
  return cancelIf(id, 'requires_action');
};
runProto.get = async function get(tenantId, id) {
  const run = runs.get(id);
  return run && run.tenantId === tenantId ? copy(run) : null;
};
runProto.page = async function page(tenantId, conversationId, pageNumber, pageSize) {
  const all = [...runs.values()]
    .filter((r) => r.conversationId === conversationId && r.tenantId === tenantId)
    .reverse();
  return { runs: all.slice((pageNumber - 1) * pageSize, pageNumber * pageSize).map(copy), total: all.length };
};
const openOf = (conversationId, statuses) =>
  [...open]
    .map((id) => runs.get(id))
    .filter((r) => r && r.conversationId === conversationId && statuses.includes(r.status));
runProto.active = async function active(conversationId) {
  const [run] = openOf(conversationId, ['running', 'requires_action']);
  return run ? copy(run) : null;
};
runProto.finish = async function finish(id, outcome, fence) {
  const run = runs.get(id);
  if (!run || !isOpen(run.status)) return { queuedBehind: false, recorded: false };
  if (fence !== undefined && run.fence !== null && run.fence > fence)
    return { queuedBehind: false, recorded: false };
  Object.assign(run, {
    status: outcome.status,
    stopReason: outcome.stopReason,
    error: outcome.error,
    inputTokens: outcome.inputTokens,
    outputTokens: outcome.outputTokens,
    costUsd: outcome.costUsd,
    lastSeq: Math.max(run.lastSeq, outcome.lastSeq),
    finishedAt: new Date(),
    startedAt: run.startedAt ?? new Date(),
  });
  open.delete(id);
  return { queuedBehind: openOf(run.conversationId, ['queued']).length > 0, recorded: true };
};
runProto.claimNextQueued = async function claimNextQueued(conversationId, fence) {
  if (openOf(conversationId, ['requires_action']).length) return null;
  const [next] = openOf(conversationId, ['queued']).sort((a, b) => b.priority - a.priority);
  if (!next) return null;
  next.status = 'running';
  next.startedAt = new Date();
  next.fence = fence;
  return copy(next);
};
runProto.cancelQueued = async function cancelQueued(id) {
  return cancelIf(id, 'queued');
};
runProto.conversationsWithQueuedRuns = async function conversationsWithQueuedRuns(limit = 100) {
  const ids = new Set();
  for (const id of open) {
    const run = runs.get(id);
    if (run && run.status === 'queued') ids.add(run.conversationId);
    if (ids.size >= limit) break;
  }
  return [...ids];
};
runProto.running = async function running(limit = 500) {
  return [...open]
    .map((id) => runs.get(id))
    .filter((r) => r && r.status === 'running')
    .slice(0, limit)
    .map(copy);
};
runProto.lastSeq = async function lastSeq(conversationId) {
  let last = 0;
  for (const run of runs.values())
    if (run.conversationId === conversationId) last = Math.max(last, run.lastSeq);
  return last;
};

// The run journal: each completed step kept with its run, in order, as RunJournal does in run_steps.
const journalProto = RunJournal.prototype;
journalProto.resume = async function resume(runId) {
  const recorded = [...(steps.get(runId) ?? [])];
  return this.journal(runId, recorded);
};
journalProto.journal = function journal(runId, recorded) {
  return {
    runId,
    recorded,
    newCallId: () => this.ids.uuid(),
    row: (entry) => {
      const { kind, ...data } = entry;
      return { step: journalOf(runId).length, kind, tool_use_id: entry.tool_use_id ?? null, data };
    },
    record: async (entry) => {
      journalOf(runId).push(entry);
    },
  };
};

function journalOf(runId) {
  let list = steps.get(runId);
  if (!list) steps.set(runId, (list = []));
  return list;
}
