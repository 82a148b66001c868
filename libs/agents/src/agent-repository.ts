// The agents and agent_versions tables: this lib is their only reader and writer.
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ConflictError } from '@lib/core';
import type { StoredAgent } from './agent';
import { fromStoredDefinition, StoredDefinition } from './agent-definition-json';

interface AgentRow {
  id: string;
  tenant_id: string | null;
  name: string;
  version: number;
  created_at: Date;
  version_created_at: Date;
  deleted_at: Date | null;
  definition: StoredDefinition;
}

/** One version of an agent, and whether the agent has been deleted since. */
export interface AgentVersionRecord {
  agent: StoredAgent;
  deleted: boolean;
}

const SELECT = `
  SELECT a.id, a.tenant_id, a.name, v.version, a.created_at, v.created_at AS version_created_at, a.deleted_at,
         v.definition
    FROM agents a JOIN agent_versions v ON v.agent_id = a.id`;

// The owner: a tenant id, or null for a global agent (no tenant id is the empty string).
const OWNER = `COALESCE(a.tenant_id, '') = COALESCE($1::text, '')`;

function toAgent(row: AgentRow): StoredAgent {
  return {
    ...fromStoredDefinition(row.name, row.definition),
    id: row.id,
    tenant: row.tenant_id,
    version: row.version,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.version_created_at),
  };
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { driverError?: { code?: string }; code?: string })?.driverError?.code === '23505';
}

@Injectable()
export class AgentRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The current version of the agent the tenant sees by that name: its own, else the global one. */
  async findVisible(tenantId: string, name: string): Promise<StoredAgent | null> {
    const rows: AgentRow[] = await this.dataSource.query(
      `${SELECT} AND v.version = a.version
        WHERE a.name = $2 AND a.deleted_at IS NULL AND (a.tenant_id = $1 OR a.tenant_id IS NULL)
        ORDER BY a.tenant_id NULLS LAST LIMIT 1`,
      [tenantId, name],
    );
    return rows.length ? toAgent(rows[0]) : null;
  }

  /** The current version of the live agent of exactly this owner (null: the global one). */
  async findOwned(owner: string | null, name: string): Promise<StoredAgent | null> {
    const rows: AgentRow[] = await this.dataSource.query(
      `${SELECT} AND v.version = a.version WHERE ${OWNER} AND a.name = $2 AND a.deleted_at IS NULL`,
      [owner, name],
    );
    return rows.length ? toAgent(rows[0]) : null;
  }

  /** Every agent the tenant sees, by name: its own, and the global ones it does not shadow. */
  async listVisible(tenantId: string): Promise<StoredAgent[]> {
    const rows: AgentRow[] = await this.dataSource.query(
      `SELECT DISTINCT ON (a.name) a.id, a.tenant_id, a.name, v.version, a.created_at,
              v.created_at AS version_created_at, a.deleted_at, v.definition
         FROM agents a JOIN agent_versions v ON v.agent_id = a.id AND v.version = a.version
        WHERE a.deleted_at IS NULL AND (a.tenant_id = $1 OR a.tenant_id IS NULL)
        ORDER BY a.name, a.tenant_id NULLS LAST`,
      [tenantId],
    );
    return rows.map(toAgent);
  }

  /** A given version of an agent, deleted or not; null when there is no such version. */
  async findVersion(agentId: string, version: number): Promise<AgentVersionRecord | null> {
    const rows: AgentRow[] = await this.dataSource.query(`${SELECT} AND v.version = $2 WHERE a.id = $1`, [
      agentId,
      version,
    ]);
    return rows.length ? { agent: toAgent(rows[0]), deleted: rows[0].deleted_at !== null } : null;
  }

  /** A new agent at version 1; ConflictError when its owner already has a live agent of that name. */
  async insert(
    owner: string | null,
    name: string,
    definition: StoredDefinition,
    apiKeyId: string | null,
  ): Promise<StoredAgent> {
    try {
      await this.dataSource.query(
        `WITH agent AS (
           INSERT INTO agents (tenant_id, name, version) VALUES ($1, $2, 1) RETURNING id
         )
         INSERT INTO agent_versions (agent_id, version, definition, created_by_api_key_id)
         SELECT id, 1, $3::jsonb, $4 FROM agent`,
        [owner, name, JSON.stringify(definition), apiKeyId],
      );
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new ConflictError(
          owner === null
            ? `A global agent named "${name}" already exists; change it with PUT /v1/agents/${name}.`
            : `Tenant ${owner} already has an agent named "${name}"; change it with PUT /v1/agents/${name}.`,
        );
      }
      throw error;
    }
    return (await this.findOwned(owner, name))!;
  }

  /**
   * Saves the definition as the agent's next version, in one statement (the agent row's lock orders concurrent
   * writes, so each gets its own number). Null when the agent was deleted meanwhile.
   */
  async addVersion(
    agentId: string,
    definition: StoredDefinition,
    apiKeyId: string | null,
  ): Promise<StoredAgent | null> {
    const rows: Array<{ version: number }> = await this.dataSource.query(
      `WITH bumped AS (
         UPDATE agents SET version = version + 1, updated_at = now()
          WHERE id = $1 AND deleted_at IS NULL RETURNING id, version
       )
       INSERT INTO agent_versions (agent_id, version, definition, created_by_api_key_id)
       SELECT id, version, $2::jsonb, $3 FROM bumped RETURNING version`,
      [agentId, JSON.stringify(definition), apiKeyId],
    );
    if (!rows.length) return null;
    return (await this.findVersion(agentId, rows[0].version))!.agent;
  }

  /** Marks the agent deleted (its versions stay: conversations that used it stay readable). */
  async softDelete(agentId: string): Promise<boolean> {
    const [, affected] = (await this.dataSource.query(
      `UPDATE agents SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL`,
      [agentId],
    )) as [unknown, number];
    return affected > 0;
  }
}
