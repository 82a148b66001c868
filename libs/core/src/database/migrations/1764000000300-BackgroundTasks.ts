import { MigrationInterface, QueryRunner } from 'typeorm';

export class BackgroundTasks1764000000300 implements MigrationInterface {
  name = 'BackgroundTasks1764000000300';

  async up(q: QueryRunner): Promise<void> {
    // conversation_id names the task's agent conversation before it exists: the conversation row is written
    // with the turn, in one transaction at the end, so it carries no foreign key.
    await q.query(`
      CREATE TABLE tasks (
        id uuid PRIMARY KEY,
        tenant_id text NOT NULL,
        agent_name text NOT NULL,
        instruction text NOT NULL,
        status text NOT NULL DEFAULT 'queued'
          CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
        progress real NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
        result text,
        error text,
        input_tokens bigint NOT NULL DEFAULT 0,
        output_tokens bigint NOT NULL DEFAULT 0,
        cost_usd numeric(18, 8) NOT NULL DEFAULT 0,
        attempts integer NOT NULL DEFAULT 0,
        webhook_url text,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        conversation_id uuid NOT NULL,
        queue text NOT NULL,
        request_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        cancel_requested_at timestamptz
      )`);
    await q.query(`CREATE INDEX tasks_tenant_created_idx ON tasks (tenant_id, created_at DESC, id DESC)`);
    await q.query(
      `CREATE INDEX tasks_tenant_status_created_idx ON tasks (tenant_id, status, created_at DESC, id DESC)`,
    );
    // What start-up recovery scans: the unfinished tasks of one queue.
    await q.query(
      `CREATE INDEX tasks_unfinished_idx ON tasks (queue, created_at) WHERE status IN ('queued', 'running')`,
    );
    await q.query(`
      CREATE TABLE webhook_deliveries (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        tenant_id text NOT NULL,
        webhook_id text NOT NULL,
        event text NOT NULL,
        url text NOT NULL,
        attempt integer NOT NULL,
        delivered boolean NOT NULL,
        status_code integer,
        error text,
        duration_ms integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX webhook_deliveries_task_idx ON webhook_deliveries (task_id, created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE webhook_deliveries`);
    await q.query(`DROP TABLE tasks`);
  }
}
