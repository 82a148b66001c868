// Idempotency-Key for POST /v1/chat: a retried request within the TTL, for the same tenant, gets the first answer.
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppConfig, DomainError, ValidationError } from '@lib/core';

/** A claim that was never completed (a crashed process) may be taken over after this long. */
const STALE_CLAIM_SECONDS = 600;

export type IdempotencyClaim = { kind: 'claimed' } | { kind: 'replay'; response: unknown };

export function requestFingerprint(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

@Injectable()
export class IdempotencyStore {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  /**
   * Claims the key for this request, or answers the stored response of the first request.
   * The same key with a different body is refused; one still running answers busy.
   */
  async claim(tenantId: string, key: string, fingerprint: string): Promise<IdempotencyClaim> {
    const ttl = this.config.idempotencyTtlSeconds;
    const claimed: unknown[] = await this.dataSource.query(
      `INSERT INTO idempotency_keys (tenant_id, key, request_hash, status) VALUES ($1, $2, $3, 'in_progress')
       ON CONFLICT (tenant_id, key) DO UPDATE
         SET request_hash = EXCLUDED.request_hash, status = 'in_progress', response = NULL, created_at = now()
         WHERE idempotency_keys.created_at < now() - make_interval(secs => $4)
            OR (idempotency_keys.status = 'in_progress'
                AND idempotency_keys.created_at < now() - make_interval(secs => $5))
       RETURNING 1`,
      [tenantId, key, fingerprint, ttl, Math.min(ttl, STALE_CLAIM_SECONDS)],
    );
    if (claimed.length) return { kind: 'claimed' };
    const rows: Array<{ request_hash: string; status: string; response: unknown }> =
      await this.dataSource.query(
        `SELECT request_hash, status, response FROM idempotency_keys WHERE tenant_id = $1 AND key = $2`,
        [tenantId, key],
      );
    // Deleted between the two statements: the first request failed; claim again.
    if (!rows.length) return this.claim(tenantId, key, fingerprint);
    const [row] = rows;
    if (row.request_hash !== fingerprint) {
      throw new ValidationError('This Idempotency-Key was already used with a different request body.', [
        { field: 'Idempotency-Key', message: 'must be unique per distinct request' },
      ]);
    }
    if (row.status === 'completed') return { kind: 'replay', response: row.response };
    throw new DomainError(
      'conversation_busy',
      'A request with this Idempotency-Key is still running; retry when it has finished.',
      undefined,
      1,
    );
  }

  async complete(tenantId: string, key: string, response: unknown): Promise<void> {
    await this.dataSource.query(
      `UPDATE idempotency_keys SET status = 'completed', response = $3 WHERE tenant_id = $1 AND key = $2`,
      [tenantId, key, JSON.stringify(response)],
    );
  }

  /** Forgets a claim whose request failed, so a retry runs the turn. */
  async release(tenantId: string, key: string): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND status = 'in_progress'`,
      [tenantId, key],
    );
  }
}
