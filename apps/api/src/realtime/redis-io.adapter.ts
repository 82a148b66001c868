// Socket.IO on the API's HTTP server, with the Redis adapter so rooms span every API instance.
import { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import Redis from 'ioredis';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { Observable } from 'rxjs';
import type { Server, ServerOptions, Socket } from 'socket.io';
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
    const pub = new Redis(this.config.redisUrl, { maxRetriesPerRequest: null, enableAutoPipelining: true });
    const sub = new Redis(this.config.redisUrl, { maxRetriesPerRequest: null });
    for (const client of [pub, sub]) client.on('error', () => undefined);
    this.clients.push(pub, sub);
    server.adapter(createAdapter(pub, sub));
    return server;
  }

  /**
   * One plain listener per event and socket. Nest's default builds an RxJS pipeline per event and socket (plus a
   * shared disconnect stream), which is most of what an idle connection costs; the behaviour is the same: the
   * handler runs with the payload and the acknowledgement callback, a returned `{ event, data }` is emitted, any
   * other returned value acknowledges (unless the handler takes the ack itself), and a failure is logged.
   */
  override bindMessageHandlers(
    socket: Socket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    for (const { message, callback, isAckHandledManually } of handlers) {
      socket.on(message, (...args: unknown[]) => {
        const { data, ack } = this.mapPayload(args.length === 1 ? args[0] : args) as {
          data: unknown;
          ack?: (response: unknown) => void;
        };
        let result: Observable<unknown>;
        try {
          result = transform(callback(data, ack));
        } catch (error) {
          this.logger.error(error);
          return;
        }
        result.subscribe({
          next: (response) => {
            if (response === null || response === undefined) return;
            const reply = response as { event?: string; data?: unknown };
            if (reply.event) socket.emit(reply.event, reply.data);
            else if (!isAckHandledManually && typeof ack === 'function') ack(response);
          },
          error: (error: unknown) => this.logger.error(error),
        });
      });
    }
  }

  override async close(server: Server): Promise<void> {
    await super.close(server);
    await Promise.all(this.clients.map((client) => closeRedis(client)));
  }
}
