// The one global guard: every route needs `Authorization: Bearer <API key>` unless marked @Public(); @Roles() adds a role check.
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { trace } from '@opentelemetry/api';
import { ForbiddenError, LogContext, UnauthorizedError } from '@lib/core';
import { bearerToken } from './api-key-token';
import { ApiKeyService } from './api-key.service';
import { AuthenticatedRequest, IS_PUBLIC, REQUIRED_ROLES } from './auth.decorators';
import { hasRole, Principal, Role } from './principal';
import { UnauthenticatedLimit } from './unauthenticated-limit';

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeyService,
    private readonly unauthenticated: UnauthenticatedLimit,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // Sockets are authenticated once, at the handshake (SocketAuthenticator), not per event.
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest & { ip?: string }>();
    const principal = await this.authenticate(request.headers.authorization, request.ip ?? 'unknown');
    request.principal = principal;
    // Every later log line of the request names the tenant, and so does its trace.
    LogContext.assign({ tenant_id: principal.tenantId });
    trace.getActiveSpan()?.setAttribute('tenant.id', principal.tenantId);
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(REQUIRED_ROLES, targets) ?? [];
    if (!hasRole(principal, roles)) {
      throw new ForbiddenError(`This route needs an API key with the role ${roles.join(' or ')}.`);
    }
    return true;
  }

  /**
   * The caller's principal. A key this instance validated moments ago passes at once; anything else is checked
   * against its address's limit on failed authentications first, and a failure counts against it.
   */
  private async authenticate(header: string | string[] | undefined, address: string): Promise<Principal> {
    const token = bearerToken(header);
    if (token && this.keys.isTrusted(token)) return this.keys.authenticate(token);
    await this.unauthenticated.assertAllowed(address);
    try {
      if (header === undefined) throw new UnauthorizedError();
      if (!token) throw new UnauthorizedError('The Authorization header must be "Bearer <API key>".');
      return await this.keys.authenticate(token);
    } catch (error) {
      if (error instanceof UnauthorizedError) await this.unauthenticated.recordFailure(address);
      throw error;
    }
  }
}
