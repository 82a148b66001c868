import { MigrationInterface, QueryRunner } from 'typeorm';
import { DEMO_TEMPLATE_TENANT } from '../demo-data';

const DEMO_TABLES: Array<{ table: string; key: string }> = [
  { table: 'kb_articles', key: 'slug' },
  { table: 'products', key: 'sku' },
  { table: 'pricing_plans', key: 'plan_code' },
  { table: 'orders', key: 'order_number' },
];

// Tenant scope for the demo store, and idempotency claims that show they are alive.
// - kb_articles, products, pricing_plans and orders were global: any key could read every order and its
//   customer's e-mail. Each row now belongs to a tenant; the existing rows become the template a tenant's own
//   copy is made from (demo_data_tenants records the tenants that got theirs).
// - Ticket numbers came from one global sequence, which told each tenant how many tickets the others opened:
//   they now count per tenant (support_ticket_counters), and are unique per tenant.
// - idempotency_keys.heartbeat_at: a running request refreshes it, so only a claim whose process died is taken over.
export class TenantScopedDemoData1765000000300 implements MigrationInterface {
  name = 'TenantScopedDemoData1765000000300';

  async up(q: QueryRunner): Promise<void> {
    for (const { table, key } of DEMO_TABLES) {
      await q.query(`ALTER TABLE ${table} ADD COLUMN tenant_id text`);
      await q.query(`UPDATE ${table} SET tenant_id = $1`, [DEMO_TEMPLATE_TENANT]);
      await q.query(`ALTER TABLE ${table} ALTER COLUMN tenant_id SET NOT NULL`);
      await q.query(`ALTER TABLE ${table} DROP CONSTRAINT ${table}_${key}_key`);
      await q.query(
        `ALTER TABLE ${table} ADD CONSTRAINT ${table}_tenant_${key}_key UNIQUE (tenant_id, ${key})`,
      );
    }
    await q.query(`DROP INDEX products_category_idx`);
    await q.query(`CREATE INDEX products_category_idx ON products (tenant_id, lower(category)) WHERE active`);
    await q.query(`
      CREATE TABLE demo_data_tenants (
        tenant_id text PRIMARY KEY,
        seeded_at timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE support_ticket_counters (
        tenant_id text PRIMARY KEY,
        last_number bigint NOT NULL
      )`);
    // Numbers already given stay valid; each tenant's count continues after its highest one.
    await q.query(`
      INSERT INTO support_ticket_counters (tenant_id, last_number)
      SELECT tenant_id, max(substring(ticket_number FROM 5)::bigint)
        FROM support_tickets
       WHERE ticket_number ~ '^TCK-[0-9]+$'
       GROUP BY tenant_id`);
    await q.query(`ALTER TABLE support_tickets ALTER COLUMN ticket_number DROP DEFAULT`);
    await q.query(`DROP SEQUENCE support_ticket_number_seq`);
    await q.query(`ALTER TABLE support_tickets DROP CONSTRAINT support_tickets_ticket_number_key`);
    await q.query(`
      ALTER TABLE support_tickets
        ADD CONSTRAINT support_tickets_tenant_number_key UNIQUE (tenant_id, ticket_number)`);

    await q.query(`ALTER TABLE idempotency_keys ADD COLUMN heartbeat_at timestamptz NOT NULL DEFAULT now()`);
    await q.query(`UPDATE idempotency_keys SET heartbeat_at = created_at`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE idempotency_keys DROP COLUMN heartbeat_at`);

    await q.query(`ALTER TABLE support_tickets DROP CONSTRAINT support_tickets_tenant_number_key`);
    await q.query(`
      CREATE SEQUENCE support_ticket_number_seq
        START WITH ${await nextGlobalTicketNumber(q)} OWNED BY support_tickets.ticket_number`);
    // Per-tenant numbers repeat across tenants: renumber all but each number's first holder to stay unique.
    await q.query(`
      UPDATE support_tickets t
         SET ticket_number = 'TCK-' || lpad(nextval('support_ticket_number_seq')::text, 6, '0')
        FROM (SELECT id, row_number() OVER (PARTITION BY ticket_number ORDER BY created_at, id) AS n
                FROM support_tickets) d
       WHERE d.id = t.id AND d.n > 1`);
    await q.query(
      `ALTER TABLE support_tickets ADD CONSTRAINT support_tickets_ticket_number_key UNIQUE (ticket_number)`,
    );
    await q.query(`
      ALTER TABLE support_tickets ALTER COLUMN ticket_number
        SET DEFAULT 'TCK-' || lpad(nextval('support_ticket_number_seq')::text, 6, '0')`);
    await q.query(`DROP TABLE support_ticket_counters`);

    await q.query(`DROP TABLE demo_data_tenants`);
    await q.query(`DROP INDEX products_category_idx`);
    await q.query(`CREATE INDEX products_category_idx ON products (lower(category)) WHERE active`);
    for (const { table, key } of DEMO_TABLES) {
      await q.query(`DELETE FROM ${table} WHERE tenant_id <> $1`, [DEMO_TEMPLATE_TENANT]);
      await q.query(`ALTER TABLE ${table} DROP CONSTRAINT ${table}_tenant_${key}_key`);
      await q.query(`ALTER TABLE ${table} ADD CONSTRAINT ${table}_${key}_key UNIQUE (${key})`);
      await q.query(`ALTER TABLE ${table} DROP COLUMN tenant_id`);
    }
  }
}

async function nextGlobalTicketNumber(q: QueryRunner): Promise<number> {
  const [row] = await q.query(
    `SELECT coalesce(max(substring(ticket_number FROM 5)::bigint), 99) + 1 AS next
       FROM support_tickets WHERE ticket_number ~ '^TCK-[0-9]+$'`,
  );
  return Number(row.next);
}
