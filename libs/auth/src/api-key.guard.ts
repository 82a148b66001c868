// The one global guard: every route needs `Authorization: Bearer <API key>` unless marked @Public(); @Roles() adds a role check.
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { trace } from '@opentelemetry/api';
import { ForbiddenError, LogContext, UnauthorizedError } from '@lib/core';
import { bearerToken } from './api-key-token';
import { ApiKeyService } from './api-key.service';
import { AuthenticatedRequest, IS_PUBLIC, REQUIRED_ROLES } from './auth.decorators';
import { hasRole, Role } from './principal';

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeyService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // Sockets are authenticated once, at the handshake (SocketAuthenticator), not per event.
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization;
    if (header === undefined) throw new UnauthorizedError();
    const token = bearerToken(header);
    if (!token) throw new UnauthorizedError('The Authorization header must be "Bearer <API key>".');
    const principal = await this.keys.authenticate(token);
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
}
