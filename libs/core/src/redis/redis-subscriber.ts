// One Redis connection in subscriber mode per process, shared by everything that listens to a channel
// (run cancellations, run events of followed conversations): a subscribed connection can do nothing else, so they cannot share
// RedisService's.
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../config/app-config';

@Injectable()
export class RedisSubscriber implements OnModuleDestroy {
  private client: Redis | undefined;
  private readonly handlers = new Map<string, (message: string) => void>();

  constructor(private readonly config: AppConfig) {}

  /**
   * Calls `handler` with every message published on `channel` (one handler a channel); resolves once Redis
   * confirmed the subscription. The connection opens with the first subscription and resubscribes by itself
   * after a reconnect.
   */
  async subscribe(channel: string, handler: (message: string) => void): Promise<void> {
    this.handlers.set(channel, handler);
    await this.connection().subscribe(channel);
  }

  /** Stops listening to `channel`; its handler gets no further message. */
  async unsubscribe(channel: string): Promise<void> {
    this.handlers.delete(channel);
    if (this.client) await this.client.unsubscribe(channel);
  }

  async onModuleDestroy(): Promise<void> {
    this.client?.disconnect();
  }

  private connection(): Redis {
    if (!this.client) {
      this.client = new Redis(this.config.redisUrl, { maxRetriesPerRequest: null });
      // Connection errors are retried by ioredis; each listener says what it misses meanwhile.
      this.client.on('error', () => undefined);
      this.client.on('message', (channel: string, message: string) => this.handlers.get(channel)?.(message));
    }
    return this.client;
  }
}
