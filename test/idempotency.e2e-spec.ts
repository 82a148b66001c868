// Idempotency keys: a claim is the running request's for as long as its process beats for it — never taken over
// while the turn runs, however long — and taken over only once its process stopped; expired rows are purged.
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { AppConfig, DomainError } from '@lib/core';
import { IdempotencyStore } from '@lib/chat';
import { FakeAnthropic } from './support/fake-anthropic';
import { startTestApp } from './support/app';
import { openTestDataSource } from './support/database';

describe('idempotency keys', () => {
  let db: DataSource;
  const tenantId = `idempotency-${randomUUID()}`;
  const stores: IdempotencyStore[] = [];

  /** A store as one process has it (its own heartbeat), on the real database. */
  const storeOfAProcess = () => {
    const store = new IdempotencyStore(db, Object.assign(new AppConfig(), { idempotencyTtlSeconds: 86_400 }));
    stores.push(store);
    return store;
  };
  const backdate = (key: string, column: 'created_at' | 'heartbeat_at', seconds: number) =>
    db.query(
      `UPDATE idempotency_keys SET ${column} = now() - make_interval(secs => $3) WHERE tenant_id = $1 AND key = $2`,
      [tenantId, key, seconds],
    );
  const busy = (promise: Promise<unknown>) =>
    expect(promise).rejects.toMatchObject({ type: 'conversation_busy' } satisfies Partial<DomainError>);

  beforeAll(async () => {
    db = await openTestDataSource();
  });
  afterEach(() => stores.splice(0).forEach((store) => store.onModuleDestroy()));
  afterAll(async () => {
    await db.query(`DELETE FROM idempotency_keys WHERE tenant_id = $1`, [tenantId]);
    await db.destroy();
  });

  it('never takes over a claim older than 600 s while its process still beats for it', async () => {
    const [running, retry] = [storeOfAProcess(), storeOfAProcess()];
    const key = `long-${randomUUID()}`;
    await expect(running.claim(tenantId, key, 'body')).resolves.toEqual({ kind: 'claimed' });
    await backdate(key, 'created_at', 700);
    await busy(retry.claim(tenantId, key, 'body'));

    // Its heartbeat goes stale only if nobody beats: a beat makes the claim alive again.
    await backdate(key, 'heartbeat_at', 200);
    await running.beat();
    await busy(retry.claim(tenantId, key, 'body'));
  });

  it('takes over a claim once its process stopped beating (it crashed), and then beats for it', async () => {
    const [crashed, retry] = [storeOfAProcess(), storeOfAProcess()];
    const key = `crash-${randomUUID()}`;
    await crashed.claim(tenantId, key, 'body');
    crashed.onModuleDestroy();
    await backdate(key, 'heartbeat_at', 60);
    await busy(retry.claim(tenantId, key, 'body'));
    await backdate(key, 'heartbeat_at', 100);
    await expect(retry.claim(tenantId, key, 'body')).resolves.toEqual({ kind: 'claimed' });
    await backdate(key, 'heartbeat_at', 100);
    await retry.beat();
    const [row] = await db.query(
      `SELECT extract(epoch FROM now() - heartbeat_at) AS age FROM idempotency_keys WHERE tenant_id = $1 AND key = $2`,
      [tenantId, key],
    );
    expect(Number(row.age)).toBeLessThan(5);
  });

  it('stops beating for a claim once it completed or was released', async () => {
    const store = storeOfAProcess();
    const [done, failed] = [`done-${randomUUID()}`, `failed-${randomUUID()}`];
    await store.claim(tenantId, done, 'body');
    await store.claim(tenantId, failed, 'body');
    await store.complete(tenantId, done, { ok: true });
    await store.release(tenantId, failed);
    await backdate(done, 'heartbeat_at', 300);
    await store.beat();
    const [row] = await db.query(
      `SELECT extract(epoch FROM now() - heartbeat_at) AS age FROM idempotency_keys WHERE tenant_id = $1 AND key = $2`,
      [tenantId, done],
    );
    expect(Number(row.age)).toBeGreaterThan(250);
  });

  it('purges expired rows as claims come in, keeping answers within the TTL and claims still beating', async () => {
    const insert = (key: string, status: string, createdAgo: number, beatAgo: number) =>
      db.query(
        `INSERT INTO idempotency_keys (tenant_id, key, request_hash, status, created_at, heartbeat_at)
         VALUES ($1, $2, 'h', $3, now() - make_interval(secs => $4), now() - make_interval(secs => $5))`,
        [tenantId, key, status, createdAgo, beatAgo],
      );
    const prefix = `purge-${randomUUID()}`;
    await insert(`${prefix}-expired-answer`, 'completed', 90_000, 90_000);
    await insert(`${prefix}-dead-claim`, 'in_progress', 90_000, 3_600);
    await insert(`${prefix}-day-long-turn`, 'in_progress', 90_000, 5);
    await insert(`${prefix}-fresh-answer`, 'completed', 60, 60);

    // Any claim starts the purge (at most once a minute per process), without waiting for it.
    await storeOfAProcess().claim(tenantId, `${prefix}-trigger`, 'body');
    const remaining = async () =>
      (
        await db.query(`SELECT key FROM idempotency_keys WHERE tenant_id = $1 AND key LIKE $2 ORDER BY key`, [
          tenantId,
          `${prefix}-%`,
        ])
      ).map((row: { key: string }) => row.key.slice(prefix.length + 1));
    for (let i = 0; i < 100 && (await remaining()).length > 3; i += 1)
      await new Promise((r) => setTimeout(r, 20));
    expect(await remaining()).toEqual(['day-long-turn', 'fresh-answer', 'trigger']);
  });

  it('answers 409 to a retry of a turn still running after 600 s, then replays its answer', async () => {
    const fake = await FakeAnthropic.start();
    const t = await startTestApp({
      ANTHROPIC_API_KEY: `sk-ant-idem-${randomUUID()}`,
      ANTHROPIC_BASE_URL: fake.url,
    });
    try {
      const gate = fake.gate();
      fake.enqueue({ text: 'The slow answer', gate });
      const headers = { 'idempotency-key': 'slow-turn' };
      const first = t.request('POST', '/v1/chat', { json: { message: 'Take your time' }, headers });
      await gate.reached;
      await db.query(
        `UPDATE idempotency_keys SET created_at = now() - interval '700 seconds' WHERE tenant_id = $1`,
        [t.tenantId],
      );
      const retry = await t.request('POST', '/v1/chat', { json: { message: 'Take your time' }, headers });
      expect(retry.status).toBe(409);
      expect(retry.body.error.type).toBe('conversation_busy');
      gate.release();
      const answer = await first;
      expect(answer.status).toBe(200);
      const replay = await t.request('POST', '/v1/chat', { json: { message: 'Take your time' }, headers });
      expect(replay.status).toBe(200);
      expect(replay.body.message_id).toBe(answer.body.message_id);
      expect(fake.requests).toHaveLength(1);
    } finally {
      await t.close();
      await fake.stop();
    }
  });
});
