// Usage reports over llm_calls, the per-call record: every sum is a SQL aggregate of those rows, tenant-scoped.
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export const USAGE_GROUPS = ['agent', 'conversation', 'day', 'api_key'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

export interface UsageQuery {
  groupBy: UsageGroup;
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
}

export interface UsageRow {
  /** The agent name, conversation id, UTC day (YYYY-MM-DD) or API key id; null for calls without one. */
  key: string | null;
  requests: number;
  /** Cache writes and reads included, as the contract counts input. */
  input_tokens: number;
  output_tokens: number;
  /** The parts of input_tokens read from and written to the prompt cache. */
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  /** Every call the provider billed: completed, cancelled and failed-after-it-started alike. */
  cost_usd: number;
}

export interface UsageReport {
  rows: UsageRow[];
  total_cost_usd: number;
}

const KEY_OF: Record<UsageGroup, string> = {
  agent: 'agent_name',
  conversation: 'conversation_id::text',
  day: `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
  api_key: 'api_key_id::text',
};

@Injectable()
export class UsageService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async report(tenantId: string, query: UsageQuery): Promise<UsageReport> {
    const where = `tenant_id = $1 AND ($2::timestamptz IS NULL OR created_at >= $2)
      AND ($3::timestamptz IS NULL OR created_at < $3)`;
    const params = [tenantId, query.from ?? null, query.to ?? null];
    const order = query.groupBy === 'day' ? 'key ASC' : 'cost_usd DESC, key ASC NULLS LAST';
    const [rows, total] = await Promise.all([
      this.dataSource.query(
        `SELECT ${KEY_OF[query.groupBy]} AS key, count(*)::int AS requests,
           sum(input_tokens + cache_creation_input_tokens + cache_read_input_tokens)::bigint AS input_tokens,
           sum(output_tokens)::bigint AS output_tokens,
           sum(cache_read_input_tokens)::bigint AS cache_read_input_tokens,
           sum(cache_creation_input_tokens)::bigint AS cache_creation_input_tokens, sum(cost_usd) AS cost_usd
         FROM llm_calls WHERE ${where} GROUP BY 1 ORDER BY ${order}`,
        params,
      ) as Promise<Array<Record<keyof UsageRow, string>>>,
      this.dataSource.query(
        `SELECT COALESCE(sum(cost_usd), 0) AS total FROM llm_calls WHERE ${where}`,
        params,
      ) as Promise<Array<{ total: string }>>,
    ]);
    return {
      rows: rows.map((row) => ({
        key: row.key,
        requests: Number(row.requests),
        input_tokens: Number(row.input_tokens),
        output_tokens: Number(row.output_tokens),
        cache_read_input_tokens: Number(row.cache_read_input_tokens),
        cache_creation_input_tokens: Number(row.cache_creation_input_tokens),
        cost_usd: Number(row.cost_usd),
      })),
      total_cost_usd: Number(total[0].total),
    };
  }
}
