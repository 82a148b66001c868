import { MigrationInterface, QueryRunner } from 'typeorm';

/** Every turn is a run: a row from the moment it is queued or started until it ends, with its outcome. */
export class Runs1765000000100 implements MigrationInterface {
  name = 'Runs1765000000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE runs (
        id uuid PRIMARY KEY,
        tenant_id text NOT NULL,
        conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        agent_name text NOT NULL,
        source text NOT NULL CHECK (source IN ('rest', 'sse', 'socket', 'task', 'mcp')),
        status text NOT NULL
          CHECK (status IN ('queued', 'running', 'requires_action', 'completed', 'failed', 'cancelled')),
        stop_reason text,
        error jsonb,
        message text NOT NULL,
        api_key_id uuid,
        task_id uuid,
        -- An interrupting run goes ahead of the runs queued before it.
        priority smallint NOT NULL DEFAULT 0,
        input_tokens bigint NOT NULL DEFAULT 0,
        output_tokens bigint NOT NULL DEFAULT 0,
        cost_usd numeric(18, 8) NOT NULL DEFAULT 0,
        -- The sequence number of the run's last event, so a conversation's numbering survives a Redis restart.
        last_seq bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz
      )`);
    await q.query(
      `CREATE INDEX runs_conversation_created_idx ON runs (conversation_id, created_at DESC, id DESC)`,
    );
    await q.query(
      `CREATE INDEX runs_queued_idx ON runs (conversation_id, priority DESC, created_at) WHERE status = 'queued'`,
    );
    await q.query(
      `CREATE INDEX runs_unfinished_idx ON runs (status, created_at) WHERE status IN ('queued', 'running')`,
    );
    await q.query(`ALTER TABLE tasks ADD COLUMN run_id uuid`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks DROP COLUMN run_id`);
    await q.query(`DROP TABLE runs`);
  }
}
