// Who is calling: the API key's tenant and role, resolved once per request or socket.
export const ROLES = ['user', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  /** Null only for callers that are not an API key (none today; kept for internal principals). */
  apiKeyId: string | null;
  tenantId: string;
  role: Role;
  name: string;
}

/** An admin key can do everything a user key can. */
export function hasRole(principal: Principal, required: readonly Role[]): boolean {
  return required.length === 0 || required.includes(principal.role) || principal.role === 'admin';
}
