// The Socket.IO handshake check: a namespace middleware that admits a socket only with a valid API key.
import { Injectable, Logger } from '@nestjs/common';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { RateLimitedError, UnauthorizedError } from '@lib/core';
import { bearerToken } from './api-key-token';
import { ApiKeyService } from './api-key.service';
import type { Principal } from './principal';
import { UnauthenticatedLimit } from './unauthenticated-limit';

/** What the middleware needs of a Socket.IO socket (a `socket.io` Socket satisfies it). */
export interface HandshakeSocket {
  handshake: { auth: Record<string, unknown>; headers: IncomingHttpHeaders };
  data: Record<string, unknown>;
  /** The handshake's HTTP request: where the client address comes from. */
  request?: IncomingMessage;
}

/** The error a refused handshake gives the client (`connect_error`): `message` is the contract's type. */
export interface HandshakeError extends Error {
  data?: { type: string; message: string };
}

@Injectable()
export class SocketAuthenticator {
  private readonly logger = new Logger(SocketAuthenticator.name);

  constructor(
    private readonly keys: ApiKeyService,
    private readonly unauthenticated: UnauthenticatedLimit,
  ) {}

  /** The principal of a handshake token; UnauthorizedError for a missing, malformed, unknown or revoked key. */
  authenticate(token: unknown): Promise<Principal> {
    return this.keys.authenticate(token);
  }

  /** `handshake.auth.token`, else an `Authorization: Bearer` handshake header. */
  tokenOf(socket: HandshakeSocket): unknown {
    const fromAuth = socket.handshake.auth?.token;
    if (fromAuth !== undefined && fromAuth !== null && fromAuth !== '') return fromAuth;
    return bearerToken(socket.handshake.headers?.authorization);
  }

  /**
   * `namespace.use(authenticator.middleware())`: stores the principal in `socket.data.principal` (and its
   * tenant in `socket.data.tenantId`), or fails the connection with `connect_error` message `unauthorized`.
   */
  middleware(): (socket: HandshakeSocket, next: (error?: HandshakeError) => void) => void {
    return (socket, next) => {
      this.admit(socket).then(
        (principal) => {
          socket.data.principal = principal;
          socket.data.tenantId = principal.tenantId;
          next();
        },
        (error: unknown) => {
          if (error instanceof UnauthorizedError) {
            next(handshakeError('unauthorized', error.message));
            return;
          }
          if (error instanceof RateLimitedError) {
            next(handshakeError('rate_limited', error.message));
            return;
          }
          this.logger.warn(`Socket handshake check failed: ${(error as Error)?.message ?? String(error)}`);
          next(handshakeError('service_unavailable', 'The API key could not be checked; retry shortly.'));
        },
      );
    };
  }

  /** As the HTTP guard does: a key validated moments ago passes; others face their address's failure limit. */
  private async admit(socket: HandshakeSocket): Promise<Principal> {
    const token = this.tokenOf(socket);
    if (typeof token === 'string' && this.keys.isTrusted(token)) return this.authenticate(token);
    const address = socket.request ? this.unauthenticated.clientAddress(socket.request) : 'unknown';
    await this.unauthenticated.assertAllowed(address);
    try {
      return await this.authenticate(token);
    } catch (error) {
      if (error instanceof UnauthorizedError) await this.unauthenticated.recordFailure(address);
      throw error;
    }
  }
}

/** A refusal of the handshake: the client's `connect_error` has `message` = type and `data` = {type, message}. */
export function handshakeError(type: string, message: string): HandshakeError {
  const error: HandshakeError = new Error(type);
  error.data = { type, message };
  return error;
}
