// The statements every turn sends (store a turn, start and end a run, journal a step) as named prepared
// statements: PostgreSQL parses and plans each once per connection instead of on every call. The planning of the
// turn's CTEs cost more PostgreSQL CPU than running them (pg_stat_statements, track_planning on). They go through
// the pool TypeORM itself uses (same connections, settings and type parsers), without its per-query runner.
import type { DataSource } from 'typeorm';

interface PgPool {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/** A statement sent by name: its text must never change for a name (pg refuses a second text for one name). */
export class PreparedStatement<Row = Record<string, unknown>> {
  constructor(
    readonly name: string,
    readonly text: string,
  ) {}

  /** The rows the statement returns (for an UPDATE or DELETE too: its RETURNING rows, never a count). */
  async run(db: DataSource, values: unknown[]): Promise<Row[]> {
    const pool = (db.driver as unknown as { master: PgPool }).master;
    const result = await pool.query({ name: this.name, text: this.text, values });
    return result.rows as Row[];
  }
}
