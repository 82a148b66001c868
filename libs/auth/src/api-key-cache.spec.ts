import { ApiKeyCache } from './api-key-cache';
import type { Principal } from './principal';

const principal = (id: string): Principal => ({ apiKeyId: id, tenantId: 'acme', role: 'user', name: id });

describe('ApiKeyCache', () => {
  let now: number;
  const cache = (ttl = 5_000, max = 100) => new ApiKeyCache(ttl, max, () => now);

  beforeEach(() => {
    now = 1_000_000;
  });

  it('trusts a key for the TTL only: after it the database is asked again (so a revocation lands within it)', () => {
    const c = cache();
    c.set('h1', principal('k1'));
    now += 4_999;
    expect(c.get('h1')).toEqual(principal('k1'));
    now += 1;
    expect(c.get('h1')).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('forgets a revoked key at once', () => {
    const c = cache();
    c.set('h1', principal('k1'));
    c.set('h2', principal('k2'));
    c.evictKey('k1');
    expect(c.get('h1')).toBeUndefined();
    expect(c.get('h2')).toEqual(principal('k2'));
  });

  it('stays bounded, dropping the oldest entry first', () => {
    const c = cache(5_000, 3);
    for (const n of [1, 2, 3, 4]) c.set(`h${n}`, principal(`k${n}`));
    expect(c.size).toBe(3);
    expect(c.get('h1')).toBeUndefined();
    expect(c.get('h4')).toEqual(principal('k4'));
  });

  it('caches nothing with a TTL of 0', () => {
    const c = cache(0);
    c.set('h1', principal('k1'));
    expect(c.get('h1')).toBeUndefined();
  });
});
