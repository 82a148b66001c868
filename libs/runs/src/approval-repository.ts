// The `approvals` table: one row per tool call that waits, or waited, for a person's decision. Tenant-scoped reads;
// a decision is checked and recorded in one transaction that holds the run's row.
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { DomainError, NotFoundError } from '@lib/core';
import type { RunState } from '@lib/core';
import type { Approval, ApprovalState, Decision } from './approval-records';

interface ApprovalRow {
  run_id: string;
  tool_use_id: string;
  tenant_id: string;
  conversation_id: string;
  tool_name: string;
  arguments: Record<string, unknown>;
  arguments_sha256: string;
  status: ApprovalState;
  decided_by: string | null;
  decided_at: Date | null;
  reason: string | null;
  expires_at: Date;
  created_at: Date;
}

function toApproval(row: ApprovalRow): Approval {
  return {
    runId: row.run_id,
    toolUseId: row.tool_use_id,
    tenantId: row.tenant_id,
    conversationId: row.conversation_id,
    toolName: row.tool_name,
    arguments: row.arguments,
    argumentsSha256: row.arguments_sha256,
    status: row.status,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at ? new Date(row.decided_at) : null,
    reason: row.reason,
    expiresAt: new Date(row.expires_at),
    createdAt: new Date(row.created_at),
  };
}

/** A call that waits for a decision, as the gate records it: it expires `timeoutSeconds` from now. */
export type NewApproval = Pick<
  Approval,
  'runId' | 'toolUseId' | 'tenantId' | 'conversationId' | 'toolName' | 'arguments' | 'argumentsSha256'
> & { timeoutSeconds: number };

/**
 * A decision the contract refuses with 409: the call was decided already, its arguments are not the ones the client
 * names, or its run is not waiting. The contract's only 409 type is `conversation_busy`; `details` say which.
 */
export class DecisionConflictError extends DomainError {
  constructor(message: string, field: string, detail: string) {
    super('conversation_busy', message, [{ field, message: detail }]);
  }
}

/** The outcome of recording decisions: the run, and how many of its calls still wait. */
export interface DecisionOutcome {
  runId: string;
  conversationId: string;
  taskId: string | null;
  stillPending: number;
}

const COLUMNS = `run_id, tool_use_id, tenant_id, conversation_id, tool_name, arguments, arguments_sha256, status,
  decided_by, decided_at, reason, expires_at, created_at`;
const QUALIFIED = COLUMNS.replace(/(\w+)/g, 'a.$1');

/** TypeORM answers an UPDATE … RETURNING with `[rows, affected]`. */
function returned<T>(result: unknown): T[] {
  return (result as [T[], number])[0];
}

@Injectable()
export class ApprovalRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Records the calls as waiting, unless they are recorded already (a re-executed run meets the same calls again),
   * and answers every one of them as stored: pending, or as it was decided meanwhile.
   */
  async record(approvals: NewApproval[]): Promise<Approval[]> {
    if (!approvals.length) return [];
    const rows: ApprovalRow[] = await this.db.query(
      `WITH input AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS a(run_id uuid, tool_use_id text, tenant_id text,
           conversation_id uuid, tool_name text, arguments jsonb, arguments_sha256 text, timeout_seconds int)
       ), inserted AS (
         INSERT INTO approvals (run_id, tool_use_id, tenant_id, conversation_id, tool_name, arguments,
           arguments_sha256, expires_at)
         SELECT run_id, tool_use_id, tenant_id, conversation_id, tool_name, arguments, arguments_sha256,
                now() + make_interval(secs => timeout_seconds)
           FROM input
         ON CONFLICT (run_id, tool_use_id) DO NOTHING
         RETURNING ${COLUMNS}
       )
       SELECT ${COLUMNS} FROM inserted
       UNION ALL
       SELECT ${QUALIFIED} FROM approvals a JOIN input i ON a.run_id = i.run_id AND a.tool_use_id = i.tool_use_id
        WHERE NOT EXISTS (SELECT 1 FROM inserted n WHERE n.run_id = a.run_id AND n.tool_use_id = a.tool_use_id)`,
      [
        JSON.stringify(
          approvals.map((a) => ({
            run_id: a.runId,
            tool_use_id: a.toolUseId,
            tenant_id: a.tenantId,
            conversation_id: a.conversationId,
            tool_name: a.toolName,
            arguments: a.arguments,
            arguments_sha256: a.argumentsSha256,
            timeout_seconds: a.timeoutSeconds,
          })),
        ),
      ],
    );
    return rows.map(toApproval);
  }

  /** A run's approvals, in the order they were asked for. */
  async ofRun(runId: string): Promise<Approval[]> {
    const rows: ApprovalRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM approvals WHERE run_id = $1 ORDER BY created_at, tool_use_id`,
      [runId],
    );
    return rows.map(toApproval);
  }

  /** The pending approvals of these runs, by run. */
  async pendingOf(runIds: string[]): Promise<Map<string, Approval[]>> {
    const byRun = new Map<string, Approval[]>();
    if (!runIds.length) return byRun;
    const rows: ApprovalRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM approvals WHERE run_id = ANY($1::uuid[]) AND status = 'pending'
        ORDER BY created_at, tool_use_id`,
      [runIds],
    );
    for (const approval of rows.map(toApproval)) {
      byRun.set(approval.runId, [...(byRun.get(approval.runId) ?? []), approval]);
    }
    return byRun;
  }

  /** The tenant's inbox: pending calls (soonest to expire first) or decided ones (latest decision first). */
  async page(
    tenantId: string,
    status: 'pending' | 'decided',
    page: number,
    pageSize: number,
  ): Promise<{ approvals: Approval[]; total: number }> {
    const where = status === 'pending' ? `status = 'pending'` : `status <> 'pending'`;
    const order =
      status === 'pending' ? 'expires_at, created_at, tool_use_id' : 'decided_at DESC, tool_use_id';
    const rows: (ApprovalRow & { total: string })[] = await this.db.query(
      `SELECT ${COLUMNS}, count(*) OVER () AS total FROM approvals WHERE tenant_id = $1 AND ${where}
        ORDER BY ${order} LIMIT $2 OFFSET $3`,
      [tenantId, pageSize, (page - 1) * pageSize],
    );
    if (rows.length || page === 1) {
      return { approvals: rows.map(toApproval), total: Number(rows[0]?.total ?? 0) };
    }
    const [{ total }] = await this.db.query(
      `SELECT count(*) AS total FROM approvals WHERE tenant_id = $1 AND ${where}`,
      [tenantId],
    );
    return { approvals: [], total: Number(total) };
  }

  /**
   * Records decisions on the tenant's run, all or none: 404 for another tenant's or an unknown run or call, 409 for
   * a call decided already, for arguments that are not the ones waiting, and for a run that is not waiting.
   */
  async decide(
    tenantId: string,
    runId: string,
    decisions: Decision[],
    decidedBy: string | null,
  ): Promise<DecisionOutcome> {
    return this.db.transaction(async (tx: EntityManager) => {
      // The run's row is held until the decisions are in: two deciders of one run take turns.
      const [run]: { status: RunState; conversation_id: string; task_id: string | null }[] = await tx.query(
        `SELECT status, conversation_id, task_id FROM runs WHERE id = $1 AND tenant_id = $2 FOR UPDATE`,
        [runId, tenantId],
      );
      if (!run) throw new NotFoundError(`Run ${runId}`);
      const rows: ApprovalRow[] = await tx.query(
        `SELECT ${COLUMNS} FROM approvals WHERE run_id = $1 ORDER BY created_at FOR UPDATE`,
        [runId],
      );
      const calls = new Map(rows.map((row) => [row.tool_use_id, toApproval(row)]));
      decisions.forEach((decision) => {
        if (!calls.has(decision.toolUseId)) {
          throw new NotFoundError(`Tool call ${decision.toolUseId} awaiting approval in run ${runId}`);
        }
      });
      decisions.forEach((decision, index) => {
        const call = calls.get(decision.toolUseId)!;
        const field = `decisions[${index}]`;
        if (call.status !== 'pending') {
          throw new DecisionConflictError(
            `Tool call ${call.toolUseId} was already decided (${call.status}${
              call.decidedAt ? ` at ${call.decidedAt.toISOString()}` : ''
            }); a decision cannot be changed.`,
            `${field}.tool_use_id`,
            `already ${call.status}`,
          );
        }
        if (decision.argumentsSha256 !== undefined && decision.argumentsSha256 !== call.argumentsSha256) {
          throw new DecisionConflictError(
            `The arguments of tool call ${call.toolUseId} are not the ones this decision names: its arguments_sha256 is ${call.argumentsSha256}.`,
            `${field}.arguments_sha256`,
            `does not match the waiting call's arguments (${call.argumentsSha256})`,
          );
        }
      });
      if (run.status !== 'requires_action') {
        throw new DecisionConflictError(
          `Run ${runId} is not waiting for a decision (it is ${run.status}).`,
          'run_id',
          `the run is ${run.status}`,
        );
      }
      for (const decision of decisions) {
        await tx.query(
          `UPDATE approvals SET status = $3, decided_by = $4, decided_at = now(), reason = $5
            WHERE run_id = $1 AND tool_use_id = $2`,
          [
            runId,
            decision.toolUseId,
            decision.approve ? 'approved' : 'denied',
            decidedBy,
            decision.reason ?? null,
          ],
        );
      }
      const decided = new Set(decisions.map((d) => d.toolUseId));
      const stillPending = [...calls.values()].filter(
        (call) => call.status === 'pending' && !decided.has(call.toolUseId),
      ).length;
      return { runId, conversationId: run.conversation_id, taskId: run.task_id, stillPending };
    });
  }

  /** Marks pending approvals past their time expired (a denial); answers the runs they belonged to. */
  async expireDue(reason: string, limit = 100): Promise<string[]> {
    const rows = returned<{ run_id: string }>(
      await this.db.query(
        `UPDATE approvals SET status = 'expired', decided_at = now(), reason = $1
          WHERE (run_id, tool_use_id) IN (
            SELECT run_id, tool_use_id FROM approvals WHERE status = 'pending' AND expires_at <= now()
             ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING run_id`,
        [reason, limit],
      ),
    );
    return [...new Set(rows.map((r) => r.run_id))];
  }

  /** How many of the run's calls have been decided (names one resumption of the run: see RunResumption). */
  async decidedCount(runId: string): Promise<number> {
    const [row]: { decided: string }[] = await this.db.query(
      `SELECT count(*) AS decided FROM approvals WHERE run_id = $1 AND status <> 'pending'`,
      [runId],
    );
    return Number(row?.decided ?? 0);
  }

  /** Runs waiting for a decision that no longer wait for any: they are to be resumed. */
  async decidedWaitingRuns(limit = 100): Promise<string[]> {
    const rows: { id: string }[] = await this.db.query(
      `SELECT r.id FROM runs r WHERE r.status = 'requires_action'
          AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.run_id = r.id AND a.status = 'pending')
        ORDER BY r.created_at LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.id);
  }
}
