import { MigrationInterface, QueryRunner } from 'typeorm';

// Durable steps: a run's journal (each completed model response and tool result, and the start of each tool that
// is not safe to run twice), replayed when the run is executed again; and the fencing token of the execution that
// owns a run, so an execution that lost the run to a newer one cannot record its end.
export class RunJournal1765000000500 implements MigrationInterface {
  name = 'RunJournal1765000000500';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE run_steps (
        run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step integer NOT NULL,
        kind text NOT NULL CHECK (kind IN ('model', 'tool_started', 'tool')),
        tool_use_id text,
        data jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (run_id, step)
      )`);
    await q.query(`ALTER TABLE runs ADD COLUMN fence bigint`);
    // How often the reconciler has resumed the run: one that keeps killing its process is failed, not resumed forever.
    await q.query(`ALTER TABLE runs ADD COLUMN resumes integer NOT NULL DEFAULT 0`);
    // A ticket's tool call is named by the idempotency key its run gives it (<run_id>:<tool_use_id>); tickets
    // opened before runs had one keep what named them then (the task and the tool_use id).
    await q.query(`ALTER TABLE support_tickets ADD COLUMN idempotency_key text`);
    await q.query(
      `UPDATE support_tickets SET idempotency_key = coalesce(task_id::text, 'none') || ':' || tool_use_id`,
    );
    await q.query(`ALTER TABLE support_tickets ALTER COLUMN idempotency_key SET NOT NULL`);
    await q.query(`DROP INDEX support_tickets_tool_call_key`);
    await q.query(
      `CREATE UNIQUE INDEX support_tickets_idempotency_key ON support_tickets (tenant_id, idempotency_key)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX support_tickets_idempotency_key`);
    await q.query(`
      CREATE UNIQUE INDEX support_tickets_tool_call_key ON support_tickets
        (tenant_id, tool_use_id, (coalesce(task_id, '00000000-0000-0000-0000-000000000000'::uuid)))`);
    await q.query(`ALTER TABLE support_tickets DROP COLUMN idempotency_key`);
    await q.query(`ALTER TABLE runs DROP COLUMN resumes`);
    await q.query(`ALTER TABLE runs DROP COLUMN fence`);
    await q.query(`DROP TABLE run_steps`);
  }
}
