// The shape of an API key: a recognisable prefix and 256 random bits in base62; stored only as a SHA-256 hash.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const API_KEY_PREFIX = 'ak_live_';
/** How much of a key is kept in clear to recognise it by (the prefix and four random characters). */
export const VISIBLE_PREFIX_LENGTH = 12;
const RANDOM_CHARS = 43; // 62^43 > 2^256
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** What a bearer token must look like before it is worth a lookup: visible ASCII, no spaces. */
const PLAUSIBLE_TOKEN = /^[\x21-\x7e]{16,512}$/;

export function generateApiKey(): string {
  let out = '';
  while (out.length < RANDOM_CHARS) {
    for (const byte of randomBytes(64)) {
      // 248 = 4 * 62: bytes above it are dropped so every character is equally likely.
      if (byte < 248 && out.length < RANDOM_CHARS) out += BASE62[byte % 62];
    }
  }
  return `${API_KEY_PREFIX}${out}`;
}

/**
 * SHA-256, not a slow password hash: keys carry 256 random bits, so there is nothing to brute-force,
 * and a request must not pay for bcrypt.
 */
export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export function visiblePrefix(key: string): string {
  return key.slice(0, VISIBLE_PREFIX_LENGTH);
}

export function isPlausibleToken(token: unknown): token is string {
  return typeof token === 'string' && PLAUSIBLE_TOKEN.test(token);
}

export function sameHash(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer <token>` header, or undefined when the header is absent or another scheme. */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
