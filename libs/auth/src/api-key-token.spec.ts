import { createHash } from 'node:crypto';
import {
  bearerToken,
  generateApiKey,
  hashApiKey,
  isPlausibleToken,
  sameHash,
  visiblePrefix,
} from './api-key-token';

describe('API key tokens', () => {
  it('look like ak_live_ and 43 base62 characters (256 random bits), never twice the same', () => {
    const keys = Array.from({ length: 200 }, generateApiKey);
    for (const key of keys) expect(key).toMatch(/^ak_live_[0-9A-Za-z]{43}$/);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('use every base62 character', () => {
    const seen = new Set(Array.from({ length: 200 }, () => generateApiKey().slice(8)).join(''));
    expect(seen.size).toBe(62);
    for (const c of '0aZz9') expect(seen.has(c)).toBe(true);
  });

  it('are stored as their SHA-256 and recognised by a 12-character prefix', () => {
    const key = generateApiKey();
    expect(hashApiKey(key).equals(createHash('sha256').update(key).digest())).toBe(true);
    expect(visiblePrefix(key)).toBe(key.slice(0, 12));
    expect(visiblePrefix(key)).toMatch(/^ak_live_.{4}$/);
  });

  it('compare hashes in constant time, and only equal ones match', () => {
    const a = hashApiKey('a'.repeat(40));
    expect(sameHash(a, hashApiKey('a'.repeat(40)))).toBe(true);
    expect(sameHash(a, hashApiKey('b'.repeat(40)))).toBe(false);
    expect(sameHash(a, Buffer.alloc(3))).toBe(false);
  });

  it.each([
    [undefined, false],
    [42, false],
    ['short', false],
    ['has a space in the middle', false],
    ['x'.repeat(513), false],
    [generateApiKey(), true],
    ['operator-chosen-secret-of-32-chars!', true],
  ])('judges %p plausible: %p', (token, expected) => {
    expect(isPlausibleToken(token)).toBe(expected);
  });

  it.each([
    ['Bearer abc.def', 'abc.def'],
    ['bearer   abc', 'abc'],
    ['Basic abc', undefined],
    ['Bearer ', undefined],
    ['Bearer a b', undefined],
    ['abc', undefined],
    [undefined, undefined],
    [['Bearer abc'], undefined],
  ])('reads the bearer token of %p as %p', (header, expected) => {
    expect(bearerToken(header)).toBe(expected);
  });
});
