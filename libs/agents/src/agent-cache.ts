// A small read-through cache of agent lookups: bounded in size and in age, and emptied whenever any agent changes
// (here or, through Redis, on another instance). Writes are rare, so emptying it all is simpler than tracking keys.
export class AgentCache {
  private readonly entries = new Map<string, { value: unknown; expiresAt: number }>();
  /** Bumped by every clear(): a read that was under way then must not store what it read before the change. */
  private generation = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  async getOrLoad<V>(key: string, load: () => Promise<V>): Promise<V> {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > this.now()) return entry.value as V;
    if (entry) this.entries.delete(key);
    const generation = this.generation;
    const value = await load();
    if (this.ttlMs > 0 && generation === this.generation) this.set(key, value);
    return value;
  }

  clear(): void {
    this.generation += 1;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private set(key: string, value: unknown): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      // Maps iterate in insertion order: the first entry is the oldest.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
  }
}
