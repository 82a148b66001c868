// A small in-process cache of validated keys: bounded in size, and in age so that a revocation reaches every instance.
import type { Principal } from './principal';

interface Entry {
  principal: Principal;
  expiresAt: number;
}

export class ApiKeyCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  /** The principal of a key hash validated less than the TTL ago. */
  get(hash: string): Principal | undefined {
    const entry = this.entries.get(hash);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(hash);
      return undefined;
    }
    return entry.principal;
  }

  set(hash: string, principal: Principal): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(hash);
    if (this.entries.size >= this.maxEntries) {
      // Maps iterate in insertion order: the first entry is the oldest.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(hash, { principal, expiresAt: this.now() + this.ttlMs });
  }

  /** Forgets a key at once (it was revoked here or on another instance). */
  evictKey(apiKeyId: string): void {
    for (const [hash, entry] of this.entries) {
      if (entry.principal.apiKeyId === apiKeyId) this.entries.delete(hash);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Key hashes the database did not know (or knew revoked), remembered for a short while: a client repeating a bad
 * key costs no database query until the entry expires. Bounded; a key created here afterwards is forgotten at once.
 */
export class UnknownKeyCache {
  private readonly expiries = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  has(hash: string): boolean {
    const expiresAt = this.expiries.get(hash);
    if (expiresAt === undefined) return false;
    if (expiresAt > this.now()) return true;
    this.expiries.delete(hash);
    return false;
  }

  add(hash: string): void {
    if (this.ttlMs <= 0) return;
    this.expiries.delete(hash);
    if (this.expiries.size >= this.maxEntries) {
      const oldest = this.expiries.keys().next().value;
      if (oldest !== undefined) this.expiries.delete(oldest);
    }
    this.expiries.set(hash, this.now() + this.ttlMs);
  }

  delete(hash: string): void {
    this.expiries.delete(hash);
  }

  get size(): number {
    return this.expiries.size;
  }
}
