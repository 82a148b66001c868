// Idempotency-Key for POST /v1/chat: a retried request within the TTL, for the same tenant, gets the first answer.
// A claim stays the running request's while its process beats for it (heartbeat_at); only a claim whose process
// stopped beating (it crashed) is taken over, however long the turn runs. Expired rows are purged as claims come in.
import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppConfig, DomainError, ValidationError } from '@lib/core';

/** How often this process refreshes the heartbeat of the claims it holds. */
export const HEARTBEAT_INTERVAL_MS = 20_000;
/** A claim not refreshed for this long belongs to a process that died: another request may take it over. */
export const STALE_HEARTBEAT_SECONDS = 90;
/** Expired rows are purged at most this often per process, at most PURGE_BATCH at a time. */
const PURGE_INTERVAL_MS = 60_000;
const PURGE_BATCH = 1_000;

export type IdempotencyClaim = { kind: 'claimed' } | { kind: 'replay'; response: unknown };

export function requestFingerprint(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

@Injectable()
export class IdempotencyStore implements OnModuleDestroy {
  private readonly logger = new Logger(IdempotencyStore.name);
  /** The claims this process holds, as `[tenant, key]` by `tenant\nkey`: one timer beats for all of them. */
  private readonly held = new Map<string, [string, string]>();
  private heartbeat: NodeJS.Timeout | undefined;
  private lastPurgeAt = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  /**
   * Claims the key for this request, or answers the stored response of the first request.
   * The same key with a different body is refused; one still running answers busy.
   */
  async claim(tenantId: string, key: string, fingerprint: string): Promise<IdempotencyClaim> {
    this.purgeInBackground();
    const ttl = this.config.idempotencyTtlSeconds;
    const claimed: unknown[] = await this.dataSource.query(
      `INSERT INTO idempotency_keys (tenant_id, key, request_hash, status) VALUES ($1, $2, $3, 'in_progress')
       ON CONFLICT (tenant_id, key) DO UPDATE
         SET request_hash = EXCLUDED.request_hash, status = 'in_progress', response = NULL, created_at = now(),
             heartbeat_at = now()
         WHERE idempotency_keys.created_at < now() - make_interval(secs => $4)
            OR (idempotency_keys.status = 'in_progress'
                AND idempotency_keys.heartbeat_at < now() - make_interval(secs => $5))
       RETURNING 1`,
      [tenantId, key, fingerprint, ttl, STALE_HEARTBEAT_SECONDS],
    );
    if (claimed.length) {
      this.hold(tenantId, key);
      return { kind: 'claimed' };
    }
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
    this.letGo(tenantId, key);
    await this.dataSource.query(
      `UPDATE idempotency_keys SET status = 'completed', response = $3 WHERE tenant_id = $1 AND key = $2`,
      [tenantId, key, JSON.stringify(response)],
    );
  }

  /** Forgets a claim whose request failed, so a retry runs the turn. */
  async release(tenantId: string, key: string): Promise<void> {
    this.letGo(tenantId, key);
    await this.dataSource.query(
      `DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND status = 'in_progress'`,
      [tenantId, key],
    );
  }

  /** Refreshes the heartbeat of every claim this process holds (what its timer does). */
  async beat(): Promise<void> {
    if (!this.held.size) return;
    const claims = [...this.held.values()];
    await this.dataSource.query(
      `UPDATE idempotency_keys SET heartbeat_at = now()
        WHERE status = 'in_progress'
          AND (tenant_id, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [claims.map(([tenant]) => tenant), claims.map(([, key]) => key)],
    );
  }

  /**
   * Deletes rows past the TTL (answers no longer replayed, and claims whose process died), a batch at a time.
   * Returns how many it deleted.
   */
  async purgeExpired(): Promise<number> {
    this.lastPurgeAt = Date.now();
    const deleted: Array<{ n: number }> = await this.dataSource.query(
      `WITH gone AS (
         DELETE FROM idempotency_keys
          WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM idempotency_keys
             WHERE created_at < now() - make_interval(secs => $1)
               AND (status = 'completed' OR heartbeat_at < now() - make_interval(secs => $2))
             LIMIT $3))
         RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [this.config.idempotencyTtlSeconds, STALE_HEARTBEAT_SECONDS, PURGE_BATCH],
    );
    return deleted[0]?.n ?? 0;
  }

  onModuleDestroy(): void {
    this.held.clear();
    this.stopBeating();
  }

  private purgeInBackground(): void {
    if (Date.now() - this.lastPurgeAt < PURGE_INTERVAL_MS) return;
    this.purgeExpired().catch((error: unknown) =>
      this.logger.warn(
        { err: error },
        'Purging expired idempotency keys failed; the next claim tries again.',
      ),
    );
  }

  private hold(tenantId: string, key: string): void {
    this.held.set(`${tenantId}\n${key}`, [tenantId, key]);
    this.heartbeat ??= setInterval(() => {
      this.beat().catch((error: unknown) =>
        this.logger.warn({ err: error }, 'Refreshing idempotency claims failed; retrying at the next beat.'),
      );
    }, HEARTBEAT_INTERVAL_MS).unref();
  }

  private letGo(tenantId: string, key: string): void {
    this.held.delete(`${tenantId}\n${key}`);
    if (!this.held.size) this.stopBeating();
  }

  private stopBeating(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}
