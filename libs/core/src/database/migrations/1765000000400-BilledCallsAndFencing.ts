import { MigrationInterface, QueryRunner } from 'typeorm';

// Usage that matches the bill: each model call says how it ended (a cancelled call, or one that failed after the
// provider started answering, is recorded with what it billed). Fencing: a conversation keeps the fencing token
// of the last lease that appended to it, so a turn whose lock expired cannot write after a newer turn did.
export class BilledCallsAndFencing1765000000400 implements MigrationInterface {
  name = 'BilledCallsAndFencing1765000000400';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE llm_calls ADD COLUMN status text NOT NULL DEFAULT 'completed'
        CONSTRAINT llm_calls_status_check CHECK (status IN ('completed', 'cancelled', 'failed'))`);
    await q.query(`ALTER TABLE conversations ADD COLUMN fence bigint NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE conversations DROP COLUMN fence`);
    await q.query(`ALTER TABLE llm_calls DROP COLUMN status`);
  }
}
