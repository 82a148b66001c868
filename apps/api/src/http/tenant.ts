// The caller's tenant and principal, resolved by the global API-key guard (libs/auth); re-exported for the controllers.
export { CurrentPrincipal, TenantId } from '@lib/auth';
