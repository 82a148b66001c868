// Socket.IO on the API's HTTP server, with the Redis adapter so rooms span every API instance.
import { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import Redis from 'ioredis';
import type { Server, ServerOptions } from 'socket.io';
import { AppConfig, closeRedis } from '@lib/core';

export class RedisIoAdapter extends IoAdapter {
  private readonly clients: Redis[] = [];

  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
    /** True while the process drains for a shutdown: new connections are refused so clients go elsewhere. */
    private readonly draining: () => boolean = () => false,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: Partial<ServerOptions>): Server {
    const server: Server = super.createIOServer(port, {
      ...options,
      maxHttpBufferSize: this.config.socketMaxPayloadBytes,
      // The same allow-list as REST: browsers on other origins need it for the polling transport.
      cors: this.config.corsOrigins.length
        ? {
            origin: this.config.corsOrigins.includes('*') ? '*' : this.config.corsOrigins,
            credentials: this.config.corsAllowCredentials,
          }
        : undefined,
      // Sockets are light: no per-message compression state, no HTTP upgrade cookie.
      perMessageDeflate: false,
      cookie: false,
      // A refused handshake is a transport error to the client, which then retries (reaching another instance).
      allowRequest: (_request, callback) =>
        this.draining() ? callback('This instance is shutting down.', false) : callback(null, true),
    } as ServerOptions);
    const pub = new Redis(this.config.redisUrl, { maxRetriesPerRequest: null });
    const sub = pub.duplicate();
    for (const client of [pub, sub]) client.on('error', () => undefined);
    this.clients.push(pub, sub);
    server.adapter(createAdapter(pub, sub));
    return server;
  }

  override async close(server: Server): Promise<void> {
    await super.close(server);
    await Promise.all(this.clients.map((client) => closeRedis(client)));
  }
}
