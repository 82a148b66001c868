import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * MCP servers registered over the API: per tenant, or for every tenant (`tenant_id` null). Their `headers` are
 * stored only encrypted (AES-256-GCM, SECRETS_KEY); their tool list is cached here, refreshed on a schedule and
 * on `notifications/tools/list_changed`.
 */
export class McpServers1765000001000 implements MigrationInterface {
  name = 'McpServers1765000001000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE mcp_servers (
        id uuid PRIMARY KEY,
        tenant_id text,
        name text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
        url text NOT NULL,
        -- "v1:" + base64(iv ‖ ciphertext ‖ tag) of the headers' JSON; null when the server needs none.
        headers_encrypted text,
        tools jsonb NOT NULL DEFAULT '[]',
        tools_refreshed_at timestamptz NOT NULL DEFAULT now(),
        created_by uuid,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // One name per tenant, and a global server's name is nobody's: an agent's "<server>__<tool>" is never ambiguous.
    await q.query(
      `CREATE UNIQUE INDEX mcp_servers_name_idx ON mcp_servers ((coalesce(tenant_id, '')), name)`,
    );
    await q.query(`CREATE INDEX mcp_servers_refresh_idx ON mcp_servers (tools_refreshed_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE mcp_servers`);
  }
}
