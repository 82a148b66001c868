// How full the provider limiter's windows are: a gauge per key and window (requests, tokens), and a warning —
// a log line and, through whoever listens (the usage lib's signed alert), an alert — once per window and key when
// a window reaches RATE_LIMIT_ALERT_RATIO of its capacity. "Once" holds across instances: a Redis key decides.
import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Gauge } from 'prom-client';
import type { Metrics } from '@lib/core';

export type RateWindow = 'requests' | 'tokens';

/** One window of one key: `used` of `capacity` (requests or tokens per window). */
export interface WindowFill {
  window: RateWindow;
  used: number;
  capacity: number;
}

/** A key's window has reached the alert ratio. */
export interface NearCapacity {
  /** How logs name the key: `#1 (sha256 …)`. */
  key: string;
  key_id: string;
  window: RateWindow;
  used: number;
  capacity: number;
  /** used / capacity, rounded to 3 decimals. */
  ratio: number;
  /** RATE_LIMIT_ALERT_RATIO. */
  threshold: number;
  window_ms: number;
}

export type NearCapacityListener = (alert: NearCapacity) => void | Promise<void>;

interface WatchedKey {
  id: string;
  label: string;
}

export interface RateLimitWatchOptions {
  /** The share of a window's capacity that raises the warning; 0: no warning (the gauges remain). */
  ratio: number;
  /** Decides "once per window" across instances; without it, once per window in this process. */
  redis?: Redis;
  metrics?: Metrics;
}

export class RateLimitWatch {
  private readonly logger = new Logger('ProviderRateLimiter');
  private readonly listeners = new Set<NearCapacityListener>();
  private readonly labels = new Map<string, string>();
  private readonly alertedHere = new Map<string, number>();
  private readonly gauge: Gauge<'key' | 'window'> | undefined;
  private windowMs = 60_000;
  private read: (() => Promise<Map<string, WindowFill[]>>) | undefined;

  constructor(private readonly options: RateLimitWatchOptions) {
    this.gauge = options.metrics?.gauge(
      'llm_rate_limit_window_usage_ratio',
      "How full each provider key's rate limit window is (used / capacity), by key and window (requests, tokens).",
      ['key', 'window'],
      // Read from Redis at each scrape: the buckets refill with time, and other instances take from them too.
      async () => this.refresh(),
    );
  }

  /** The limiter's keys and how to read every key's windows now (at each scrape). */
  watch(keys: WatchedKey[], windowMs: number, read: () => Promise<Map<string, WindowFill[]>>): void {
    for (const key of keys) this.labels.set(key.id, key.label);
    this.windowMs = windowMs;
    this.read = read;
  }

  onNearCapacity(listener: NearCapacityListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A call was granted on `keyId`, leaving its windows as `fills`. */
  async observe(keyId: string, fills: WindowFill[]): Promise<void> {
    this.publish(keyId, fills);
    const threshold = this.options.ratio;
    if (threshold <= 0) return;
    for (const fill of fills) {
      // The buckets refill continuously, so 4 requests just taken read as 3.99: count what was taken in whole units.
      const used = Math.ceil(fill.used - 1e-6);
      if (fill.capacity <= 0 || used / fill.capacity < threshold) continue;
      if (!(await this.firstInWindow(keyId, fill.window))) continue;
      this.raise(keyId, { ...fill, used }, threshold);
    }
  }

  private publish(keyId: string, fills: WindowFill[]): void {
    const key = this.labels.get(keyId) ?? keyId;
    for (const fill of fills) {
      if (fill.capacity > 0) this.gauge?.set({ key, window: fill.window }, round(fill.used / fill.capacity));
    }
  }

  private async refresh(): Promise<void> {
    const fills = await this.read?.().catch(() => undefined);
    for (const [keyId, windows] of fills ?? []) this.publish(keyId, windows);
  }

  private async firstInWindow(keyId: string, window: RateWindow): Promise<boolean> {
    const name = `llm-rate:alerted:${keyId}:${window}`;
    const { redis } = this.options;
    if (redis) {
      const set = await redis.set(name, '1', 'PX', this.windowMs, 'NX').catch(() => undefined);
      if (set !== undefined) return set === 'OK';
    }
    const now = Date.now();
    if ((this.alertedHere.get(name) ?? 0) > now) return false;
    this.alertedHere.set(name, now + this.windowMs);
    return true;
  }

  private raise(keyId: string, fill: WindowFill, threshold: number): void {
    const label = this.labels.get(keyId);
    const alert: NearCapacity = {
      key: label ? `${label} (sha256 ${keyId})` : keyId,
      key_id: keyId,
      window: fill.window,
      used: fill.used,
      capacity: fill.capacity,
      ratio: round(fill.used / fill.capacity),
      threshold,
      window_ms: this.windowMs,
    };
    this.logger.warn(
      { ...alert, event: 'rate_limit.near_capacity' },
      `The provider rate limit of key ${alert.key} is near capacity: ${alert.used} of ${alert.capacity} ${fill.window} in the current ${Math.round(this.windowMs / 1000)} s window (${Math.round(alert.ratio * 100)}%, alert at ${Math.round(threshold * 100)}%).`,
    );
    for (const listener of this.listeners) {
      void (async () => listener(alert))().catch((error: Error) =>
        this.logger.error(`Could not send the rate limit alert: ${error.message}`),
      );
    }
  }
}

function round(ratio: number): number {
  return Math.round(ratio * 1000) / 1000;
}
