import { MigrationInterface, QueryRunner } from 'typeorm';

// Cost controls: who made each model call (API key, task), calls priced at the unknown-model default,
// per-conversation cost ceilings, and the cost anomalies already alerted (once per conversation and threshold).
export class ProviderControls1764000000500 implements MigrationInterface {
  name = 'ProviderControls1764000000500';

  async up(q: QueryRunner): Promise<void> {
    // No foreign keys: usage records outlive the keys and tasks they name, as they outlive conversations.
    await q.query(`
      ALTER TABLE llm_calls
        ADD COLUMN api_key_id uuid,
        ADD COLUMN task_id uuid,
        ADD COLUMN unknown_model_price boolean NOT NULL DEFAULT false`);
    await q.query(`CREATE INDEX llm_calls_task_idx ON llm_calls (task_id) WHERE task_id IS NOT NULL`);
    await q.query(`ALTER TABLE conversations ADD COLUMN cost_limit_usd numeric(18, 8)`);
    await q.query(`
      CREATE TABLE cost_anomalies (
        id uuid PRIMARY KEY,
        tenant_id text NOT NULL,
        conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        agent_name text NOT NULL,
        threshold text NOT NULL CHECK (threshold IN ('multiple', 'absolute')),
        cost_usd numeric(18, 8) NOT NULL,
        limit_usd numeric(18, 8) NOT NULL,
        baseline_median_usd numeric(18, 8),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT cost_anomalies_once UNIQUE (conversation_id, threshold)
      )`);
    await q.query(`CREATE INDEX cost_anomalies_tenant_idx ON cost_anomalies (tenant_id, created_at)`);
    // The anomaly baseline: an agent's most recent conversations of a tenant.
    await q.query(
      `CREATE INDEX conversations_tenant_agent_activity_idx ON conversations (tenant_id, agent_name, last_activity_at DESC)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX conversations_tenant_agent_activity_idx`);
    await q.query(`DROP TABLE cost_anomalies`);
    await q.query(`ALTER TABLE conversations DROP COLUMN cost_limit_usd`);
    await q.query(`DROP INDEX llm_calls_task_idx`);
    await q.query(`
      ALTER TABLE llm_calls DROP COLUMN unknown_model_price, DROP COLUMN task_id, DROP COLUMN api_key_id`);
  }
}
