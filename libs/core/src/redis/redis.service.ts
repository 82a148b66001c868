// The process's shared Redis connection (locks, idempotency, health). Bull and Socket.IO open their own.
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../config/app-config';
import { closeRedis } from './close-redis';

@Injectable()
export class RedisService implements OnModuleDestroy {
  readonly client: Redis;

  constructor(config: AppConfig) {
    this.client = new Redis(config.redisUrl, {
      // Fail a command quickly when Redis is away instead of queueing requests forever.
      maxRetriesPerRequest: 1,
      connectTimeout: 5_000,
      lazyConnect: false,
      // Commands issued in the same tick (many requests' lock, limiter and throttler calls) go in one write.
      enableAutoPipelining: true,
    });
    // Connection errors surface through the commands that fail and through /health/ready.
    this.client.on('error', () => undefined);
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async onModuleDestroy(): Promise<void> {
    await closeRedis(this.client);
  }
}
