// The caller's tenant, resolved once per request. Until API keys land every caller is the default tenant.
import { CanActivate, createParamDecorator, ExecutionContext, Injectable } from '@nestjs/common';
import { AppConfig } from '@lib/core';

interface TenantRequest {
  tenantId?: string;
}

@Injectable()
export class TenantGuard implements CanActivate {
  constructor(private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<TenantRequest>();
    request.tenantId = this.config.defaultTenant;
    return true;
  }
}

export const TenantId = createParamDecorator((_: unknown, context: ExecutionContext): string => {
  const tenantId = context.switchToHttp().getRequest<TenantRequest>().tenantId;
  if (!tenantId) throw new Error('TenantId used on a route that no tenant guard resolved.');
  return tenantId;
});
