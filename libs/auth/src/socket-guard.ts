// Sockets under the same rules as REST: a valid key at the handshake, a cap on a key's open sockets, each
// message spent from the key's rate limit, and a revoked key's sockets disconnected.
import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '@lib/core';
import { ApiKeyService } from './api-key.service';
import { KeyRateLimit } from './key-rate-limit';
import type { Principal } from './principal';
import { SocketConnectionLimit } from './socket-connection-limit';
import { HandshakeError, handshakeError, HandshakeSocket, SocketAuthenticator } from './socket-authenticator';

/** What the guard needs of a connected Socket.IO socket (a `socket.io` Socket satisfies it). */
export interface GuardedSocket {
  id: string;
  data: Record<string, unknown>;
  emit(event: 'error', body: { type: string; message: string }): unknown;
  disconnect(close?: boolean): unknown;
  once(event: 'disconnect', listener: () => void): unknown;
}

/** The `connect_error` message of a handshake refused because the key holds its maximum of open sockets. */
export const TOO_MANY_CONNECTIONS = 'too_many_connections';
export const REVOKED_KEY_MESSAGE = "This connection's API key was revoked.";

/** Re-checks run at least this often whatever the cache TTL, and at most this often when the TTL is tiny. */
const MAX_CHECK_INTERVAL_MS = 10_000;
const MIN_CHECK_INTERVAL_MS = 250;
/** A connection slot lives this long without renewal: a crashed instance's sockets free their slots after it. */
const MIN_LEASE_MS = 30_000;

@Injectable()
export class SocketGuard implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SocketGuard.name);
  /** The sockets open on this instance, by API key id. */
  private readonly open = new Map<string, Set<GuardedSocket>>();
  /** How often this instance re-checks its sockets' keys: within the key cache's TTL, as REST does. */
  readonly checkIntervalMs: number;
  readonly leaseMs: number;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private lastRenewal = 0;
  private stopListening: (() => void) | undefined;

  constructor(
    private readonly authenticator: SocketAuthenticator,
    private readonly connections: SocketConnectionLimit,
    private readonly rateLimit: KeyRateLimit,
    private readonly keys: ApiKeyService,
    config: AppConfig,
  ) {
    this.checkIntervalMs = Math.min(
      MAX_CHECK_INTERVAL_MS,
      Math.max(MIN_CHECK_INTERVAL_MS, config.apiKeyCacheTtlMs),
    );
    this.leaseMs = Math.max(MIN_LEASE_MS, 3 * this.checkIntervalMs);
  }

  onModuleInit(): void {
    // The broadcast path: a revocation anywhere reaches this instance's sockets at once.
    this.stopListening = this.keys.onRevoked((apiKeyId) => this.disconnectKey(apiKeyId));
  }

  onModuleDestroy(): void {
    this.stopListening?.();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * `namespace.use(guard.middleware())`: the API-key check (SocketAuthenticator), then a slot among the key's
   * `SOCKET_MAX_CONNECTIONS_PER_KEY` open sockets, or `connect_error` message `too_many_connections`.
   */
  middleware(): (socket: HandshakeSocket & { id: string }, next: (error?: HandshakeError) => void) => void {
    const authenticate = this.authenticator.middleware();
    return (socket, next) => {
      authenticate(socket, (error) => {
        if (error) return next(error);
        const apiKeyId = principalOf(socket)?.apiKeyId;
        if (!apiKeyId) return next();
        this.connections
          .reserve(apiKeyId, socket.id, this.leaseMs)
          .then((admitted) =>
            next(
              admitted
                ? undefined
                : handshakeError(
                    TOO_MANY_CONNECTIONS,
                    `This API key already holds its maximum of ${this.connections.limit} open sockets; close one and retry.`,
                  ),
            ),
          );
      });
    };
  }

  /**
   * Follows a socket admitted by the middleware (call it on connection): revocation disconnects it, and its slot
   * is renewed while it is open and given back when it closes.
   */
  track(socket: GuardedSocket): void {
    const apiKeyId = principalOf(socket)?.apiKeyId;
    if (!apiKeyId) return;
    let sockets = this.open.get(apiKeyId);
    if (!sockets) this.open.set(apiKeyId, (sockets = new Set()));
    sockets.add(socket);
    socket.once('disconnect', () => {
      sockets.delete(socket);
      if (sockets.size === 0 && this.open.get(apiKeyId) === sockets) this.open.delete(apiKeyId);
      void this.connections.release(apiKeyId, socket.id);
    });
    // One timer for the whole process, started by its first socket.
    this.timer ??= setInterval(() => void this.check(), this.checkIntervalMs).unref();
  }

  /** Spends one request of the socket's key (the REST counter); RateLimitedError once the window's budget is spent. */
  async consumeMessage(socket: Pick<GuardedSocket, 'data'>): Promise<void> {
    const apiKeyId = principalOf(socket)?.apiKeyId;
    if (apiKeyId) await this.rateLimit.consume(apiKeyId);
  }

  /** Open sockets on this instance of one key (for tests and metrics). */
  openSockets(apiKeyId: string): number {
    return this.open.get(apiKeyId)?.size ?? 0;
  }

  /** Tells each socket of the key why, then disconnects it. */
  disconnectKey(apiKeyId: string): void {
    for (const socket of this.open.get(apiKeyId) ?? []) {
      socket.emit('error', { type: 'unauthorized', message: REVOKED_KEY_MESSAGE });
      socket.disconnect(true);
    }
  }

  /**
   * The periodic path, for a revocation whose broadcast this instance missed: one query for the keys of every
   * open socket. Also renews this instance's connection slots, well before their lease lapses.
   */
  async check(): Promise<void> {
    if (this.checking || this.open.size === 0) return;
    this.checking = true;
    try {
      if (Date.now() - this.lastRenewal >= this.leaseMs / 3) {
        this.lastRenewal = Date.now();
        void this.connections.renew(this.socketIdsByKey(), this.leaseMs);
      }
      const ids = [...this.open.keys()];
      const active = await this.keys.activeKeyIds(ids);
      for (const id of ids) if (!active.has(id)) this.disconnectKey(id);
    } catch (error) {
      // A database outage must not drop every socket: the next check tries again.
      this.logger.warn(`Could not re-check the API keys of open sockets: ${(error as Error).message}`);
    } finally {
      this.checking = false;
    }
  }

  private socketIdsByKey(): Map<string, string[]> {
    const byKey = new Map<string, string[]>();
    for (const [apiKeyId, sockets] of this.open)
      byKey.set(
        apiKeyId,
        [...sockets].map((s) => s.id),
      );
    return byKey;
  }
}

function principalOf(socket: { data: Record<string, unknown> }): Principal | undefined {
  return socket.data.principal as Principal | undefined;
}
