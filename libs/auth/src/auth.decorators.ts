// Route metadata for the global API-key guard, and the parameters it resolves.
import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Principal, Role } from './principal';

export const IS_PUBLIC = 'auth:public';
export const REQUIRED_ROLES = 'auth:roles';

/** The request carrying the principal the guard resolved. */
export interface AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
  principal?: Principal;
}

/** Opens a controller or route to callers without an API key (health, metrics). Every other route needs one. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

/** Restricts a controller or route to keys with one of these roles (an admin key passes every check). */
export const Roles = (...roles: Role[]): MethodDecorator & ClassDecorator =>
  SetMetadata(REQUIRED_ROLES, roles);

function principalOf(context: ExecutionContext): Principal {
  const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal)
    throw new Error('A principal was asked for on a route the API-key guard did not authenticate.');
  return principal;
}

/** The caller: its key id, tenant, role and key name. */
export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext): Principal =>
  principalOf(context),
);

/** The caller's tenant: every read and write of tenant data is scoped by it. */
export const TenantId = createParamDecorator(
  (_: unknown, context: ExecutionContext): string => principalOf(context).tenantId,
);
