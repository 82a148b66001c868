// API keys: issue (the plaintext is returned once), revoke (seen by every instance within seconds), authenticate.
import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type Redis from 'ioredis';
import { DataSource } from 'typeorm';
import {
  AppConfig,
  Clock,
  ErrorDetail,
  IdGenerator,
  NotFoundError,
  RedisService,
  UnauthorizedError,
  ValidationError,
} from '@lib/core';
import { ApiKeyCache, UnknownKeyCache } from './api-key-cache';
import {
  API_KEY_PREFIX,
  generateApiKey,
  hashApiKey,
  isPlausibleToken,
  sameHash,
  visiblePrefix,
} from './api-key-token';
import type { ApiKeyEntity } from './api-key.entity';
import { Principal, Role, ROLES } from './principal';

/** Revoked key ids are published here so every instance drops them from its cache at once. */
export const REVOCATION_CHANNEL = 'api-keys:revoked';
const CACHE_MAX_ENTRIES = 10_000;
/** last_used_at is a hint for operators, not an audit log: one write per key per minute at most. */
const TOUCH_INTERVAL_MS = 60_000;
const TENANT = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
export const INVALID_KEY_MESSAGE = 'The API key is not valid.';

export interface NewApiKey {
  tenant: string;
  role: Role;
  name: string;
}

export interface IssuedApiKey {
  id: string;
  /** The plaintext key: returned this once, never stored. */
  key: string;
  tenant: string;
  role: Role;
  name: string;
  prefix: string;
}

export interface RegisteredApiKey {
  id: string;
  created: boolean;
  revoked: boolean;
  role: Role;
  tenant: string;
}

/** What an operator sees of a key: never its hash, never the key. */
export interface ApiKeyRecord {
  id: string;
  tenant: string;
  role: Role;
  name: string;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface ApiKeyQuery {
  tenant?: string;
  includeRevoked: boolean;
  page: number;
  pageSize: number;
}

type KeyRow = Pick<ApiKeyEntity, 'id' | 'tenant_id' | 'name' | 'role' | 'key_hash' | 'revoked_at'>;

@Injectable()
export class ApiKeyService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ApiKeyService.name);
  private readonly cache: ApiKeyCache;
  private readonly unknownKeys: UnknownKeyCache;
  private readonly lastTouched = new Map<string, number>();
  private readonly revocationListeners = new Set<(apiKeyId: string) => void>();
  private subscriber: Redis | undefined;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly redis: RedisService,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    config: AppConfig,
  ) {
    const now = () => this.clock.now().getTime();
    this.cache = new ApiKeyCache(config.apiKeyCacheTtlMs, CACHE_MAX_ENTRIES, now);
    // As long as a valid key is trusted: a bad key repeated costs one query per TTL, not one per request.
    this.unknownKeys = new UnknownKeyCache(config.apiKeyCacheTtlMs, CACHE_MAX_ENTRIES, now);
  }

  onModuleInit(): void {
    const subscriber = this.redis.client.duplicate();
    this.subscriber = subscriber;
    subscriber.on('error', () => undefined);
    subscriber.on('message', (_channel: string, apiKeyId: string) => this.revoked(apiKeyId));
    // Without Redis a revocation still reaches other instances when their cache entry expires.
    subscriber.subscribe(REVOCATION_CHANNEL).catch((error: Error) => {
      this.logger.warn(`Could not subscribe to key revocations (cache TTL still applies): ${error.message}`);
    });
  }

  async onModuleDestroy(): Promise<void> {
    const subscriber = this.subscriber;
    if (!subscriber) return;
    // A subscriber that never got through has nothing to flush: waiting on QUIT would wait on reconnects.
    if (subscriber.status !== 'ready') return subscriber.disconnect();
    await subscriber.quit().catch(() => subscriber.disconnect());
  }

  /** Issues a new random key; its plaintext is in the answer and nowhere else. */
  async create(input: NewApiKey): Promise<IssuedApiKey> {
    const valid = validateNewKey(input);
    const key = generateApiKey();
    const id = this.ids.uuid();
    const hash = hashApiKey(key);
    await this.dataSource.query(
      `INSERT INTO api_keys (id, tenant_id, name, role, key_hash, prefix) VALUES ($1, $2, $3, $4, $5, $6)`,
      [id, valid.tenant, valid.name, valid.role, hash, visiblePrefix(key)],
    );
    this.unknownKeys.delete(hash.toString('base64'));
    return { id, key, ...valid, prefix: visiblePrefix(key) };
  }

  /**
   * Makes sure a key chosen by the operator (ADMIN_API_KEY) exists. An existing key keeps its row:
   * a key revoked through the API stays revoked even if the variable still names it.
   */
  async register(key: string, input: NewApiKey): Promise<RegisteredApiKey> {
    const valid = validateNewKey(input);
    const hash = hashApiKey(key);
    this.unknownKeys.delete(hash.toString('base64'));
    const prefix = key.startsWith(API_KEY_PREFIX) ? visiblePrefix(key) : key.slice(0, 4);
    const inserted: Array<{ id: string }> = await this.dataSource.query(
      `INSERT INTO api_keys (id, tenant_id, name, role, key_hash, prefix) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (key_hash) DO NOTHING RETURNING id`,
      [this.ids.uuid(), valid.tenant, valid.name, valid.role, hash, prefix],
    );
    if (inserted.length) {
      return { id: inserted[0].id, created: true, revoked: false, role: valid.role, tenant: valid.tenant };
    }
    const [row]: KeyRow[] = await this.dataSource.query(
      `SELECT id, tenant_id, name, role, key_hash, revoked_at FROM api_keys WHERE key_hash = $1`,
      [hash],
    );
    return {
      id: row.id,
      created: false,
      revoked: row.revoked_at !== null,
      role: row.role,
      tenant: row.tenant_id,
    };
  }

  /** Revokes a key; NotFoundError when there is no such active key. Every instance stops accepting it within seconds. */
  async revoke(id: string): Promise<void> {
    const result: [unknown[], number] = await this.dataSource.query(
      `UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`,
      [id],
    );
    if (!result[1]) throw new NotFoundError(`API key ${id}`);
    this.revoked(id);
    await this.redis.client.publish(REVOCATION_CHANNEL, id).catch((error: Error) => {
      this.logger.warn(
        `Could not broadcast the revocation of key ${id} (cache TTL still applies): ${error.message}`,
      );
    });
  }

  /** Keys, newest first: every tenant's, or one tenant's; revoked ones only when asked for. */
  async list(query: ApiKeyQuery): Promise<{ keys: ApiKeyRecord[]; total: number }> {
    const rows: Array<ApiKeyEntity & { total: string }> = await this.dataSource.query(
      `SELECT id, tenant_id, name, role, prefix, created_at, last_used_at, revoked_at, count(*) OVER () AS total
         FROM api_keys
        WHERE ($1::text IS NULL OR tenant_id = $1) AND ($2 OR revoked_at IS NULL)
        ORDER BY created_at DESC, id
        LIMIT $3 OFFSET $4`,
      [query.tenant ?? null, query.includeRevoked, query.pageSize, (query.page - 1) * query.pageSize],
    );
    let total = rows.length ? Number(rows[0].total) : 0;
    if (!rows.length && query.page > 1) {
      // Past the last page: the count still tells how many there are.
      const [row]: Array<{ total: string }> = await this.dataSource.query(
        `SELECT count(*) AS total FROM api_keys WHERE ($1::text IS NULL OR tenant_id = $1) AND ($2 OR revoked_at IS NULL)`,
        [query.tenant ?? null, query.includeRevoked],
      );
      total = Number(row.total);
    }
    return {
      total,
      keys: rows.map((row) => ({
        id: row.id,
        tenant: row.tenant_id,
        role: row.role,
        name: row.name,
        prefix: row.prefix,
        createdAt: row.created_at,
        lastUsedAt: row.last_used_at,
        revokedAt: row.revoked_at,
      })),
    };
  }

  /**
   * Calls `listener` with the id of every key revoked here or (through Redis) on another instance, at once. A
   * missed broadcast is not repeated: holders of long-lived sessions also re-check with activeKeyIds().
   */
  onRevoked(listener: (apiKeyId: string) => void): () => void {
    this.revocationListeners.add(listener);
    return () => this.revocationListeners.delete(listener);
  }

  /** Of the given key ids, those of keys that exist and are not revoked (one query, whatever the cache says). */
  async activeKeyIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows: Array<{ id: string }> = await this.dataSource.query(
      `SELECT id FROM api_keys WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL`,
      [ids],
    );
    return new Set(rows.map((row) => row.id));
  }

  /** True when this instance validated the key moments ago: authenticating it costs no query. */
  isTrusted(token: string): boolean {
    return isPlausibleToken(token) && this.cache.get(hashApiKey(token).toString('base64')) !== undefined;
  }

  /** The principal of a valid, unrevoked key; UnauthorizedError for anything else. */
  async authenticate(token: unknown): Promise<Principal> {
    if (token === undefined || token === null || token === '') throw new UnauthorizedError();
    if (!isPlausibleToken(token)) throw new UnauthorizedError(INVALID_KEY_MESSAGE);
    const hash = hashApiKey(token);
    const cacheKey = hash.toString('base64');
    const cached = this.cache.get(cacheKey);
    if (cached) {
      this.touch(cached);
      return cached;
    }
    if (this.unknownKeys.has(cacheKey)) throw new UnauthorizedError(INVALID_KEY_MESSAGE);
    const rows: KeyRow[] = await this.dataSource.query(
      `SELECT id, tenant_id, name, role, key_hash, revoked_at FROM api_keys WHERE key_hash = $1`,
      [hash],
    );
    const row = rows[0];
    // The lookup is by hash; the constant-time comparison keeps the check itself free of timing signals.
    if (!row || !sameHash(row.key_hash, hash) || row.revoked_at !== null) {
      this.unknownKeys.add(cacheKey);
      throw new UnauthorizedError(INVALID_KEY_MESSAGE);
    }
    const principal: Principal = {
      apiKeyId: row.id,
      tenantId: row.tenant_id,
      role: row.role,
      name: row.name,
    };
    this.cache.set(cacheKey, principal);
    this.touch(principal);
    return principal;
  }

  private revoked(apiKeyId: string): void {
    this.cache.evictKey(apiKeyId);
    for (const listener of this.revocationListeners) listener(apiKeyId);
  }

  private touch(principal: Principal): void {
    const id = principal.apiKeyId;
    if (!id) return;
    const now = this.clock.now().getTime();
    if (now - (this.lastTouched.get(id) ?? 0) < TOUCH_INTERVAL_MS) return;
    if (this.lastTouched.size >= CACHE_MAX_ENTRIES) this.lastTouched.clear();
    this.lastTouched.set(id, now);
    this.dataSource
      .query(
        `UPDATE api_keys SET last_used_at = now()
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
        [id],
      )
      .catch((error: Error) => this.logger.warn(`Could not record the use of key ${id}: ${error.message}`));
  }
}

function validateNewKey(input: NewApiKey): NewApiKey {
  const details: ErrorDetail[] = [];
  const tenant = typeof input.tenant === 'string' ? input.tenant.trim() : '';
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (!TENANT.test(tenant)) {
    details.push({
      field: 'tenant',
      message: "must be 1 to 100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
    });
  }
  if (!ROLES.includes(input.role))
    details.push({ field: 'role', message: `must be one of ${ROLES.join(', ')}` });
  if (name.length < 1 || name.length > 100)
    details.push({ field: 'name', message: 'must be 1 to 100 characters' });
  if (details.length) throw new ValidationError('The API key request is invalid.', details);
  return { tenant, role: input.role, name };
}
