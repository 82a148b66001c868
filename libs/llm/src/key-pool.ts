// The provider key pool: calls spread across ANTHROPIC_API_KEYS; a key the provider refuses (401/403) leaves
// the pool for the life of the process, is logged and shows in readiness.
import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { LlmClient } from './llm-client';
import type { LlmError } from './llm-error';

export interface PooledKey {
  /** A SHA-256 prefix of the key: how logs, Redis and readiness name it. The key itself is never shown. */
  readonly id: string;
  /** `#1`, `#2`…: its position in ANTHROPIC_API_KEYS. */
  readonly label: string;
  readonly client: LlmClient;
}

export interface KeyState {
  key: string;
  status: 'active' | 'removed';
  reason?: string;
  removed_at?: string;
}

export interface KeyPoolStatus {
  total: number;
  active: number;
  keys: KeyState[];
}

export function keyId(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex').slice(0, 16);
}

export class ProviderKeyPool {
  private readonly logger = new Logger('ProviderKeyPool');
  private readonly removed = new Map<string, { reason: string; at: Date }>();
  private turn = 0;

  constructor(
    private readonly keys: readonly PooledKey[],
    private readonly onRemoved?: (key: PooledKey) => void,
  ) {}

  /** The keys still in the pool, rotated one step per call so consecutive calls start on different keys. */
  available(): PooledKey[] {
    const active = this.keys.filter((key) => !this.removed.has(key.id));
    if (active.length < 2) return active;
    const start = this.turn++ % active.length;
    return [...active.slice(start), ...active.slice(0, start)];
  }

  /** Takes a key the provider refused out of the pool; answers how many keys remain. */
  remove(key: PooledKey, error: LlmError): number {
    if (!this.removed.has(key.id)) {
      this.removed.set(key.id, {
        reason: `${error.status ?? 'refused'}: ${error.message}`,
        at: new Date(),
      });
      const left = this.keys.length - this.removed.size;
      this.logger.error(
        `Anthropic API key ${key.label} (sha256 ${key.id}) was refused with ${error.status ?? error.kind} and left the pool; ${left} of ${this.keys.length} key(s) remain.`,
      );
      this.onRemoved?.(key);
    }
    return this.keys.length - this.removed.size;
  }

  status(): KeyPoolStatus {
    return {
      total: this.keys.length,
      active: this.keys.length - this.removed.size,
      keys: this.keys.map((key) => {
        const removed = this.removed.get(key.id);
        return removed
          ? {
              key: `${key.label} (sha256 ${key.id})`,
              status: 'removed',
              reason: removed.reason,
              removed_at: removed.at.toISOString(),
            }
          : { key: `${key.label} (sha256 ${key.id})`, status: 'active' };
      }),
    };
  }
}
