import { MigrationInterface, QueryRunner } from 'typeorm';

// Human approvals: one row per tool call that waits (or waited) for a person's decision, bound to the exact
// arguments by their hash; conversations may require approval for more tools than their agent does; a task whose
// run waits for a decision is `requires_action`.
export class Approvals1765000000600 implements MigrationInterface {
  name = 'Approvals1765000000600';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE approvals (
        run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        tool_use_id text NOT NULL,
        tenant_id text NOT NULL,
        conversation_id uuid NOT NULL,
        tool_name text NOT NULL,
        arguments jsonb NOT NULL,
        -- SHA-256 (hex) of the arguments' canonical JSON (keys sorted, no insignificant whitespace).
        arguments_sha256 text NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
        -- The API key that decided (null: expired, or decided by a key since deleted).
        decided_by uuid,
        decided_at timestamptz,
        reason text,
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (run_id, tool_use_id)
      )`);
    await q.query(
      `CREATE INDEX approvals_tenant_pending_idx ON approvals (tenant_id, created_at DESC) WHERE status = 'pending'`,
    );
    await q.query(
      `CREATE INDEX approvals_tenant_decided_idx ON approvals (tenant_id, decided_at DESC) WHERE status <> 'pending'`,
    );
    await q.query(`CREATE INDEX approvals_expiry_idx ON approvals (expires_at) WHERE status = 'pending'`);
    await q.query(`ALTER TABLE conversations ADD COLUMN require_approval text[] NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE tasks DROP CONSTRAINT tasks_status_check`);
    await q.query(`
      ALTER TABLE tasks ADD CONSTRAINT tasks_status_check
        CHECK (status IN ('queued', 'running', 'requires_action', 'completed', 'failed', 'cancelled'))`);
    await q.query(
      `CREATE INDEX runs_requires_action_idx ON runs (conversation_id) WHERE status = 'requires_action'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX runs_requires_action_idx`);
    await q.query(`UPDATE tasks SET status = 'running' WHERE status = 'requires_action'`);
    await q.query(`ALTER TABLE tasks DROP CONSTRAINT tasks_status_check`);
    await q.query(`
      ALTER TABLE tasks ADD CONSTRAINT tasks_status_check
        CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled'))`);
    await q.query(`ALTER TABLE conversations DROP COLUMN require_approval`);
    await q.query(`DROP TABLE approvals`);
  }
}
