import { ApiKeyCache, UnknownKeyCache } from './api-key-cache';
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

describe('UnknownKeyCache', () => {
  let now: number;
  const cache = (ttl = 5_000, max = 3) => new UnknownKeyCache(ttl, max, () => now);

  beforeEach(() => {
    now = 1_000_000;
  });

  it('remembers an unknown key for the TTL only', () => {
    const c = cache();
    c.add('bad');
    now += 4_999;
    expect(c.has('bad')).toBe(true);
    now += 1;
    expect(c.has('bad')).toBe(false);
    expect(c.size).toBe(0);
  });

  it('stays bounded, forgetting the oldest entry first', () => {
    const c = cache();
    for (const hash of ['a', 'b', 'c', 'd']) c.add(hash);
    expect(c.size).toBe(3);
    expect(c.has('a')).toBe(false);
    expect(c.has('d')).toBe(true);
  });

  it('forgets a key at once when it is created, and remembers nothing with a TTL of 0', () => {
    const c = cache();
    c.add('soon-valid');
    c.delete('soon-valid');
    expect(c.has('soon-valid')).toBe(false);
    const off = cache(0);
    off.add('bad');
    expect(off.has('bad')).toBe(false);
  });
});
