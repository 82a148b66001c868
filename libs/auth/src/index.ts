export { AuthModule } from './auth.module';
export { ApiKeyService, REVOCATION_CHANNEL } from './api-key.service';
export type { ApiKeyRecord, ApiKeyQuery } from './api-key.service';
export type { NewApiKey, IssuedApiKey, RegisteredApiKey } from './api-key.service';
export { ApiKeyGuard } from './api-key.guard';
export { AdminKeyBootstrap } from './admin-key-bootstrap';
export type { AdminKeySource } from './admin-key-bootstrap';
export { SocketAuthenticator } from './socket-authenticator';
export type { HandshakeSocket, HandshakeError } from './socket-authenticator';
export { RedisThrottlerStorage } from './redis-throttler-storage';
export {
  KeyRateLimit,
  RATE_LIMIT_THROTTLER,
  rateLimitCounter,
  rateLimitedError,
  rateLimitTracker,
} from './key-rate-limit';
export { SocketGuard, TOO_MANY_CONNECTIONS, REVOKED_KEY_MESSAGE } from './socket-guard';
export type { GuardedSocket } from './socket-guard';
export { SocketConnectionLimit } from './socket-connection-limit';
export { Public, Roles, CurrentPrincipal, TenantId, IS_PUBLIC, REQUIRED_ROLES } from './auth.decorators';
export type { AuthenticatedRequest } from './auth.decorators';
export { ROLES, hasRole } from './principal';
export type { Principal, Role } from './principal';
export { API_KEY_PREFIX, bearerToken } from './api-key-token';
