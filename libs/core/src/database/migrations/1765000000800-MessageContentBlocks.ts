import { MigrationInterface, QueryRunner } from 'typeorm';

// A message may be content blocks (text, images, documents): a queued run and a task keep them as JSON beside the
// text column, which keeps the message's text for anything that reads it as text.
export class MessageContentBlocks1765000000800 implements MigrationInterface {
  name = 'MessageContentBlocks1765000000800';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE runs ADD COLUMN message_content jsonb`);
    await q.query(`ALTER TABLE tasks ADD COLUMN instruction_content jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks DROP COLUMN instruction_content`);
    await q.query(`ALTER TABLE runs DROP COLUMN message_content`);
  }
}
