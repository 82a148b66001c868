// Task state in PostgreSQL, the source of truth: every status change is one conditional UPDATE, so two
// processes (a worker and a cancel, a re-run and its predecessor) can never both move a task on.
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { PreparedStatement } from '@lib/core';
import { messageText, UserContentBlock } from '@lib/llm';
import { TaskEntity } from './task.entity';
import type { FinalTaskState, NewTask, Task, TaskPage, TaskState } from './task-records';

const UNFINISHED = `status IN ('queued', 'running', 'requires_action')`;
/** Unfinished and owned by the queue: a task waiting for a decision has no job until the decision. */
const QUEUE_OWNED = `status IN ('queued', 'running')`;

/** See TaskRepository.markRunning. */
const MARK_RUNNING = new PreparedStatement<TaskEntity & { previous_run_id: string | null }>(
  'tasks_mark_running',
  `UPDATE tasks t SET status = 'running', attempts = t.attempts + 1, started_at = COALESCE(t.started_at, now()),
     error = NULL, run_id = COALESCE(t.run_id, $2::uuid)
     FROM (SELECT run_id AS previous_run_id FROM tasks WHERE id = $1) earlier
    WHERE t.id = $1 AND t.${UNFINISHED} AND t.cancel_requested_at IS NULL
   RETURNING t.*, earlier.previous_run_id`,
);

/** See TaskRepository.finish. */
const FINISH = new PreparedStatement<TaskEntity>(
  'tasks_finish',
  `UPDATE tasks SET status = $2, result = $3, error = $4,
     progress = CASE WHEN $2 = 'completed' THEN 1 ELSE progress END,
     input_tokens = COALESCE($5, input_tokens), output_tokens = COALESCE($6, output_tokens),
     cost_usd = COALESCE($7, cost_usd), finished_at = now()
   WHERE id = $1 AND ${UNFINISHED} RETURNING *`,
);

/** TypeORM answers an UPDATE … RETURNING with `[rows, affected]`. */
function returned<T>(result: unknown): T[] {
  return (result as [T[], number])[0];
}

function toTask(row: TaskEntity): Task {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    agentName: row.agent_name,
    agentPin:
      row.agent_id && row.agent_version ? { agentId: row.agent_id, version: row.agent_version } : null,
    instruction: (row.instruction_content as UserContentBlock[] | null) ?? row.instruction,
    status: row.status,
    progress: Number(row.progress),
    result: row.result,
    error: row.error,
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    costUsd: Number(row.cost_usd),
    attempts: row.attempts,
    webhookUrl: row.webhook_url,
    metadata: row.metadata,
    conversationId: row.conversation_id,
    queue: row.queue,
    requestId: row.request_id,
    createdAt: new Date(row.created_at),
    startedAt: row.started_at ? new Date(row.started_at) : null,
    finishedAt: row.finished_at ? new Date(row.finished_at) : null,
    cancelRequestedAt: row.cancel_requested_at ? new Date(row.cancel_requested_at) : null,
    runId: row.run_id ?? null,
  };
}

export interface TaskOutcome {
  result?: string | null;
  error?: string | null;
  usage?: { inputTokens: number; outputTokens: number; costUsd: number };
}

@Injectable()
export class TaskRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(
    tenantId: string,
    ids: { id: string; conversationId: string },
    queue: string,
    input: NewTask,
  ): Promise<Task> {
    const rows: TaskEntity[] = await this.dataSource.query(
      `INSERT INTO tasks (id, tenant_id, agent_name, instruction, webhook_url, metadata, conversation_id, queue, request_id,
         agent_id, agent_version, instruction_content)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb) RETURNING *`,
      [
        ids.id,
        tenantId,
        input.agentName,
        messageText(input.instruction),
        input.webhookUrl ?? null,
        JSON.stringify(input.metadata ?? {}),
        ids.conversationId,
        queue,
        input.requestId ?? null,
        input.agentPin?.agentId ?? null,
        input.agentPin?.version ?? null,
        typeof input.instruction === 'string' ? null : JSON.stringify(input.instruction),
      ],
    );
    return toTask(rows[0]);
  }

  async delete(id: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM tasks WHERE id = $1`, [id]);
  }

  /** Any tenant's task: for the processor, which got the id from its own job. */
  async findById(id: string): Promise<Task | null> {
    const rows: TaskEntity[] = await this.dataSource.query(`SELECT * FROM tasks WHERE id = $1`, [id]);
    return rows.length ? toTask(rows[0]) : null;
  }

  async findForTenant(tenantId: string, id: string): Promise<Task | null> {
    const rows: TaskEntity[] = await this.dataSource.query(
      `SELECT * FROM tasks WHERE id = $1 AND tenant_id = $2`,
      [id, tenantId],
    );
    return rows.length ? toTask(rows[0]) : null;
  }

  async list(
    tenantId: string,
    filter: { status?: TaskState; page: number; pageSize: number },
  ): Promise<TaskPage> {
    const params: unknown[] = [tenantId];
    let where = 'tenant_id = $1';
    if (filter.status) {
      params.push(filter.status);
      where += ` AND status = $${params.length}`;
    }
    const [rows, count] = await Promise.all([
      this.dataSource.query(
        `SELECT * FROM tasks WHERE ${where} ORDER BY created_at DESC, id DESC
         LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, filter.pageSize, (filter.page - 1) * filter.pageSize],
      ) as Promise<TaskEntity[]>,
      this.dataSource.query(`SELECT count(*)::int AS total FROM tasks WHERE ${where}`, params) as Promise<
        Array<{ total: number }>
      >,
    ]);
    return { items: rows.map(toTask), total: count[0].total };
  }

  /**
   * Claims the task for an attempt and counts it; null when it is gone, finished, or has a cancel requested
   * (nothing changed). The task's run is recorded in the same statement: `runId` unless the task has one from an
   * earlier attempt (`previousRunId`, which that attempt's run is).
   */
  async markRunning(id: string, runId: string): Promise<{ task: Task; previousRunId: string | null } | null> {
    const rows = await MARK_RUNNING.run(this.dataSource, [id, runId]);
    return rows.length ? { task: toTask(rows[0]), previousRunId: rows[0].previous_run_id } : null;
  }

  /**
   * A running task whose run waits for a decision on a tool call: `requires_action` until a decision re-executes it
   * (its job ends meanwhile, freeing the worker's slot). Null when it was not running (any more).
   */
  async markRequiresAction(id: string): Promise<Task | null> {
    const rows = returned<TaskEntity>(
      await this.dataSource.query(
        `UPDATE tasks SET status = 'requires_action' WHERE id = $1 AND status = 'running' RETURNING *`,
        [id],
      ),
    );
    return rows.length ? toTask(rows[0]) : null;
  }

  /** The run executing the task's turn now. */
  async recordRun(id: string, runId: string): Promise<void> {
    await this.dataSource.query(`UPDATE tasks SET run_id = $2 WHERE id = $1`, [id, runId]);
  }

  /** Raises the progress of a running task (never lowers it); answers whether a cancel was requested. */
  async recordProgress(
    id: string,
    progress: number,
  ): Promise<{ progress: number; cancelRequested: boolean } | null> {
    const rows = returned<{ progress: number; cancel_requested_at: Date | null }>(
      await this.dataSource.query(
        `UPDATE tasks SET progress = GREATEST(progress, $2) WHERE id = $1 AND status = 'running'
       RETURNING progress, cancel_requested_at`,
        [id, progress],
      ),
    );
    if (!rows.length) return null;
    return { progress: Number(rows[0].progress), cancelRequested: rows[0].cancel_requested_at !== null };
  }

  /** A run failed transiently: back to `queued` until the queue's retry, with the reason in `error`. */
  async markRetrying(id: string, error: string): Promise<Task | null> {
    const rows = returned<TaskEntity>(
      await this.dataSource.query(
        `UPDATE tasks SET status = 'queued', error = $2 WHERE id = $1 AND status = 'running' RETURNING *`,
        [id, error],
      ),
    );
    return rows.length ? toTask(rows[0]) : null;
  }

  /**
   * Ends an unfinished task; null when it had already ended (whoever ended it first wins). `alongside` runs in the
   * same transaction once the task has ended (the webhook outbox stages its event there): both commit, or neither.
   */
  async finish(
    id: string,
    state: FinalTaskState,
    outcome: TaskOutcome,
    alongside?: (task: Task, db: EntityManager) => Promise<void>,
  ): Promise<Task | null> {
    const usage = outcome.usage;
    const values = [
      id,
      state,
      outcome.result ?? null,
      outcome.error ?? null,
      usage?.inputTokens ?? null,
      usage?.outputTokens ?? null,
      usage?.costUsd ?? null,
    ];
    if (!alongside) {
      // Nothing to write with it: one statement, its own transaction.
      const rows = await FINISH.run(this.dataSource, values);
      return rows.length ? toTask(rows[0]) : null;
    }
    return this.dataSource.transaction(async (db) => {
      const rows = returned<TaskEntity>(await db.query(FINISH.text, values));
      if (!rows.length) return null;
      const task = toTask(rows[0]);
      await alongside(task, db);
      return task;
    });
  }

  /** Marks an unfinished task for cancellation; null when it has already ended. */
  async requestCancel(tenantId: string, id: string): Promise<Task | null> {
    const rows = returned<TaskEntity>(
      await this.dataSource.query(
        `UPDATE tasks SET cancel_requested_at = COALESCE(cancel_requested_at, now())
       WHERE id = $1 AND tenant_id = $2 AND ${UNFINISHED} RETURNING *`,
        [id, tenantId],
      ),
    );
    return rows.length ? toTask(rows[0]) : null;
  }

  /**
   * The unfinished tasks of a queue, oldest first: what recovery checks against the queue. `queuedOnly` leaves out
   * running ones (their worker may be running them right now).
   */
  async unfinished(queue: string, limit: number, queuedOnly = false): Promise<Task[]> {
    const rows: TaskEntity[] = await this.dataSource.query(
      `SELECT * FROM tasks WHERE queue = $1 AND ${queuedOnly ? `status = 'queued'` : QUEUE_OWNED}
       ORDER BY created_at LIMIT $2`,
      [queue, limit],
    );
    return rows.map(toTask);
  }
}
