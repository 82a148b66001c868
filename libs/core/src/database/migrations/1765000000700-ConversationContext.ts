import { MigrationInterface, QueryRunner } from 'typeorm';

// Long conversations: a conversation may lower its context budget (max_context_tokens); the position before which
// old tool results are sent as a placeholder; and the summaries that stand in for older turns in what is sent to
// the model. The stored messages are never changed by either: a summary is a record of its own that names the
// range of messages (by position) it covers.
export class ConversationContext1765000000700 implements MigrationInterface {
  name = 'ConversationContext1765000000700';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE conversations ADD COLUMN max_context_tokens integer`);
    await q.query(
      `ALTER TABLE conversations ADD COLUMN tool_results_cleared_before integer NOT NULL DEFAULT 0`,
    );
    await q.query(`
      CREATE TABLE conversation_summaries (
        id uuid PRIMARY KEY,
        conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        tenant_id text NOT NULL,
        first_seq integer NOT NULL,
        last_seq integer NOT NULL,
        text text NOT NULL,
        model text NOT NULL,
        tokens integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT conversation_summaries_range_check CHECK (first_seq >= 0 AND last_seq >= first_seq)
      )`);
    await q.query(
      `CREATE INDEX conversation_summaries_latest ON conversation_summaries (conversation_id, last_seq DESC)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE conversation_summaries`);
    await q.query(`ALTER TABLE conversations DROP COLUMN tool_results_cleared_before`);
    await q.query(`ALTER TABLE conversations DROP COLUMN max_context_tokens`);
  }
}
