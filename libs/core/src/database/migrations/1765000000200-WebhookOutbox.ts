import { MigrationInterface, QueryRunner } from 'typeorm';

// The webhook outbox: one row per signed event to send (a task's ending, a cost anomaly), written in the same
// transaction as the state it announces, so a crash or a Redis outage delays a webhook but never loses it.
// webhook_deliveries keeps one row per attempt, now also of events that belong to no task (alerts).
export class WebhookOutbox1765000000200 implements MigrationInterface {
  name = 'WebhookOutbox1765000000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE webhook_outbox (
        webhook_id text PRIMARY KEY,
        tenant_id text NOT NULL,
        task_id uuid REFERENCES tasks (id) ON DELETE CASCADE,
        event text NOT NULL,
        url text NOT NULL,
        body text NOT NULL,
        queue text NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'queued', 'delivered', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        single_attempt boolean NOT NULL DEFAULT false,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // What the relay scans: the unsent events of one queue, by when they are due.
    await q.query(
      `CREATE INDEX webhook_outbox_unsent_idx ON webhook_outbox (queue, next_attempt_at)
         WHERE status IN ('pending', 'queued')`,
    );
    await q.query(
      `CREATE INDEX webhook_outbox_task_idx ON webhook_outbox (task_id, created_at) WHERE task_id IS NOT NULL`,
    );
    await q.query(`CREATE INDEX webhook_outbox_tenant_idx ON webhook_outbox (tenant_id)`);
    await q.query(`ALTER TABLE webhook_deliveries ALTER COLUMN task_id DROP NOT NULL`);
    await q.query(`CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, attempt)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX webhook_deliveries_webhook_idx`);
    await q.query(`DELETE FROM webhook_deliveries WHERE task_id IS NULL`);
    await q.query(`ALTER TABLE webhook_deliveries ALTER COLUMN task_id SET NOT NULL`);
    await q.query(`DROP TABLE webhook_outbox`);
  }
}
