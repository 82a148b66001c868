// The `mcp_servers` table. A tenant sees its own servers and the global ones (tenant_id null); nothing else.
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { McpServerRecord, McpToolRecord } from './mcp-server-records';

interface Row {
  id: string;
  tenant_id: string | null;
  name: string;
  url: string;
  headers_encrypted: string | null;
  tools: McpToolRecord[];
  tools_refreshed_at: Date;
  created_at: Date;
}

const COLUMNS = 'id, tenant_id, name, url, headers_encrypted, tools, tools_refreshed_at, created_at';

function toRecord(row: Row): McpServerRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    url: row.url,
    headersSealed: row.headers_encrypted,
    tools: row.tools,
    toolsRefreshedAt: new Date(row.tools_refreshed_at),
    createdAt: new Date(row.created_at),
  };
}

/**
 * TypeORM answers an UPDATE or DELETE … RETURNING with `[rows, affected]` (a SELECT or INSERT with the rows alone).
 */
function changedRows<T>(result: unknown): T[] {
  return (result as [T[], number])[0];
}

/** Rows visible to a tenant; `null` (a global agent's view) sees the global rows only. */
const VISIBLE = `(tenant_id IS NULL OR tenant_id = $1)`;

@Injectable()
export class McpServerRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Inserts the server unless its name is taken where it would be visible: by the same tenant, by a global server,
   * or (for a global server) by any tenant's. Answers false when taken.
   */
  async insert(server: Omit<McpServerRecord, 'toolsRefreshedAt' | 'createdAt'>, createdBy: string | null) {
    return this.db.transaction(async (manager) => {
      // One writer per name at a time: the check below and the insert cannot interleave with another's.
      await manager.query(`SELECT pg_advisory_xact_lock(hashtext('mcp_servers:' || $1))`, [server.name]);
      const taken: unknown[] = await manager.query(
        `SELECT 1 FROM mcp_servers WHERE name = $1 AND ($2::text IS NULL OR tenant_id IS NULL OR tenant_id = $2)
         LIMIT 1`,
        [server.name, server.tenantId],
      );
      if (taken.length) return false;
      await manager.query(
        `INSERT INTO mcp_servers (id, tenant_id, name, url, headers_encrypted, tools, created_by)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)`,
        [
          server.id,
          server.tenantId,
          server.name,
          server.url,
          server.headersSealed,
          JSON.stringify(server.tools),
          createdBy,
        ],
      );
      return true;
    });
  }

  async visible(tenantId: string | null): Promise<McpServerRecord[]> {
    const rows: Row[] = await this.db.query(
      `SELECT ${COLUMNS} FROM mcp_servers WHERE ${VISIBLE} ORDER BY name`,
      [tenantId],
    );
    return rows.map(toRecord);
  }

  async visibleByName(tenantId: string | null, name: string): Promise<McpServerRecord | null> {
    const rows: Row[] = await this.db.query(
      `SELECT ${COLUMNS} FROM mcp_servers WHERE ${VISIBLE} AND name = $2`,
      [tenantId, name],
    );
    return rows.length ? toRecord(rows[0]) : null;
  }

  async visibleById(tenantId: string, id: string): Promise<McpServerRecord | null> {
    const rows: Row[] = await this.db.query(
      `SELECT ${COLUMNS} FROM mcp_servers WHERE ${VISIBLE} AND id = $2`,
      [tenantId, id],
    );
    return rows.length ? toRecord(rows[0]) : null;
  }

  async byId(id: string): Promise<McpServerRecord | null> {
    const rows: Row[] = await this.db.query(`SELECT ${COLUMNS} FROM mcp_servers WHERE id = $1`, [id]);
    return rows.length ? toRecord(rows[0]) : null;
  }

  /** Deletes a server the tenant sees; false when it sees none with that id. */
  async delete(tenantId: string, id: string): Promise<boolean> {
    const rows = changedRows<{ id: string }>(
      await this.db.query(`DELETE FROM mcp_servers WHERE ${VISIBLE} AND id = $2 RETURNING id`, [
        tenantId,
        id,
      ]),
    );
    return rows.length > 0;
  }

  async saveTools(id: string, tools: McpToolRecord[]): Promise<void> {
    await this.db.query(
      `UPDATE mcp_servers SET tools = $2::jsonb, tools_refreshed_at = now() WHERE id = $1`,
      [id, JSON.stringify(tools)],
    );
  }

  /**
   * Takes up to `limit` servers whose tools were last refreshed before `before`, marking them refreshed now, so
   * that of several instances only one refreshes each server per period.
   */
  async claimStale(before: Date, limit: number): Promise<McpServerRecord[]> {
    const rows = changedRows<Row>(
      await this.db.query(
        `UPDATE mcp_servers SET tools_refreshed_at = now()
       WHERE id IN (SELECT id FROM mcp_servers WHERE tools_refreshed_at < $1 ORDER BY tools_refreshed_at
                    LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING ${COLUMNS}`,
        [before, limit],
      ),
    );
    return rows.map(toRecord);
  }
}
