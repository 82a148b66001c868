// The webhook outbox and its attempt log in PostgreSQL. An event is added inside the caller's transaction (with the
// state it announces); after that, each state change is one conditional UPDATE keyed on the attempt count, so a
// duplicate job (a relay pass and an in-process hand-over of the same attempt) can never settle an attempt twice.
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/** What `add` needs of a connection: an EntityManager or QueryRunner inside the caller's transaction. */
export interface Queryable {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

export type OutboxStatus = 'pending' | 'queued' | 'delivered' | 'failed';

export interface OutboxEvent {
  webhookId: string;
  tenantId: string;
  taskId: string | null;
  event: string;
  url: string;
  /** The exact bytes sent (and signed) at every attempt. */
  body: string;
  queue: string;
  status: OutboxStatus;
  /** Attempts made so far. */
  attempts: number;
  /** A redelivery: one attempt, not retried along the schedule. */
  singleAttempt: boolean;
  nextAttemptAt: Date;
  lastError: string | null;
}

export interface AttemptRecord {
  webhookId: string;
  event: string;
  attempt: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  at: Date;
}

export interface Settlement {
  status: 'pending' | 'delivered' | 'failed';
  /** When the next attempt is due (status `pending`). */
  nextAttemptAt?: Date;
}

interface OutboxRow {
  webhook_id: string;
  tenant_id: string;
  task_id: string | null;
  event: string;
  url: string;
  body: string;
  queue: string;
  status: OutboxStatus;
  attempts: number;
  single_attempt: boolean;
  next_attempt_at: Date;
  last_error: string | null;
}

function toEvent(row: OutboxRow): OutboxEvent {
  return {
    webhookId: row.webhook_id,
    tenantId: row.tenant_id,
    taskId: row.task_id,
    event: row.event,
    url: row.url,
    body: row.body,
    queue: row.queue,
    status: row.status,
    attempts: row.attempts,
    singleAttempt: row.single_attempt,
    nextAttemptAt: new Date(row.next_attempt_at),
    lastError: row.last_error,
  };
}

/** TypeORM answers an UPDATE … RETURNING with `[rows, affected]`. */
function returned<T>(result: unknown): T[] {
  return (result as [T[], number])[0];
}

@Injectable()
export class OutboxRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async add(
    db: Queryable,
    event: Pick<OutboxEvent, 'webhookId' | 'tenantId' | 'taskId' | 'event' | 'url' | 'body' | 'queue'>,
  ): Promise<void> {
    await db.query(
      `INSERT INTO webhook_outbox (webhook_id, tenant_id, task_id, event, url, body, queue)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [event.webhookId, event.tenantId, event.taskId, event.event, event.url, event.body, event.queue],
    );
  }

  async find(webhookId: string): Promise<OutboxEvent | null> {
    const rows: OutboxRow[] = await this.dataSource.query(
      `SELECT * FROM webhook_outbox WHERE webhook_id = $1`,
      [webhookId],
    );
    return rows.length ? toEvent(rows[0]) : null;
  }

  /** The queue's pending events that are due, oldest first. */
  async due(queue: string, limit: number): Promise<OutboxEvent[]> {
    const rows: OutboxRow[] = await this.dataSource.query(
      `SELECT * FROM webhook_outbox WHERE queue = $1 AND status = 'pending' AND next_attempt_at <= now()
       ORDER BY next_attempt_at LIMIT $2`,
      [queue, limit],
    );
    return rows.map(toEvent);
  }

  /** Queued events whose attempt is overdue by more than `graceMs`: their job may have been lost with Redis. */
  async overdue(queue: string, graceMs: number, limit: number): Promise<OutboxEvent[]> {
    const rows: OutboxRow[] = await this.dataSource.query(
      `SELECT * FROM webhook_outbox WHERE queue = $1 AND status = 'queued'
         AND next_attempt_at < now() - make_interval(secs => $2::double precision / 1000)
       ORDER BY next_attempt_at LIMIT $3`,
      [queue, graceMs, limit],
    );
    return rows.map(toEvent);
  }

  /** A pending event's next attempt is in the queue. False when it moved on meanwhile. */
  async markQueued(webhookId: string, attempts: number): Promise<boolean> {
    const rows = returned(
      await this.dataSource.query(
        `UPDATE webhook_outbox SET status = 'queued', updated_at = now()
         WHERE webhook_id = $1 AND status = 'pending' AND attempts = $2 RETURNING 1`,
        [webhookId, attempts],
      ),
    );
    return rows.length > 0;
  }

  /**
   * Records attempt `attempt` and moves the event on, in one transaction; false (and nothing written) when that
   * attempt had already been settled.
   */
  async settle(event: OutboxEvent, attempt: AttemptRecord, next: Settlement): Promise<boolean> {
    return this.dataSource.transaction(async (db) => {
      const rows = returned(
        await db.query(
          `UPDATE webhook_outbox SET attempts = $2, status = $3, next_attempt_at = COALESCE($4, next_attempt_at),
             last_error = $5, single_attempt = single_attempt AND $3 = 'pending', updated_at = now()
           WHERE webhook_id = $1 AND attempts = $2 - 1 AND status IN ('pending', 'queued') RETURNING 1`,
          [event.webhookId, attempt.attempt, next.status, next.nextAttemptAt ?? null, attempt.error],
        ),
      );
      if (!rows.length) return false;
      await db.query(
        `INSERT INTO webhook_deliveries
           (task_id, tenant_id, webhook_id, event, url, attempt, delivered, status_code, error, duration_ms, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          event.taskId,
          event.tenantId,
          event.webhookId,
          event.event,
          event.url,
          attempt.attempt,
          next.status === 'delivered',
          attempt.statusCode,
          attempt.error,
          attempt.durationMs,
          attempt.at,
        ],
      );
      return true;
    });
  }

  /** Every attempt at the task's events, in order. */
  async attemptsOfTask(taskId: string): Promise<AttemptRecord[]> {
    const rows: Array<{
      webhook_id: string;
      event: string;
      attempt: number;
      status_code: number | null;
      error: string | null;
      duration_ms: number;
      created_at: Date;
    }> = await this.dataSource.query(
      `SELECT webhook_id, event, attempt, status_code, error, duration_ms, created_at FROM webhook_deliveries
       WHERE task_id = $1 ORDER BY created_at, attempt`,
      [taskId],
    );
    return rows.map((row) => ({
      webhookId: row.webhook_id,
      event: row.event,
      attempt: row.attempt,
      statusCode: row.status_code,
      error: row.error,
      durationMs: row.duration_ms,
      at: new Date(row.created_at),
    }));
  }

  /** The task's latest event, or null when it has none (no webhook_url, or not ended). */
  async latestOfTask(taskId: string): Promise<OutboxEvent | null> {
    const rows: OutboxRow[] = await this.dataSource.query(
      `SELECT * FROM webhook_outbox WHERE task_id = $1 ORDER BY created_at DESC LIMIT 1`,
      [taskId],
    );
    return rows.length ? toEvent(rows[0]) : null;
  }

  /**
   * Makes the event's next attempt due now. A settled event (delivered or given up) gets one more attempt; an
   * event still being retried keeps its schedule, only sooner.
   */
  async redeliver(webhookId: string): Promise<OutboxEvent> {
    const rows = returned<OutboxRow>(
      await this.dataSource.query(
        `UPDATE webhook_outbox SET single_attempt = (status IN ('delivered', 'failed')) OR single_attempt,
           status = CASE WHEN status = 'queued' THEN 'queued' ELSE 'pending' END,
           next_attempt_at = now(), updated_at = now()
         WHERE webhook_id = $1 RETURNING *`,
        [webhookId],
      ),
    );
    return toEvent(rows[0]);
  }
}
