export { AppConfig } from './config/app-config';
export type { NodeEnv } from './config/app-config';
export { loadConfig, ConfigError } from './config/load-config';
export { dataSourceOptions } from './database/data-source-options';
export type { DatabaseSettings } from './database/data-source-options';
export { ensureDatabaseExists } from './database/ensure-database';
export { Clock, SystemClock } from './clock';
export { IdGenerator, RandomIdGenerator } from './id-generator';
export { CoreModule } from './core.module';
export type { CoreModuleOptions } from './core.module';
export { RedisService } from './redis/redis.service';
export { REDACTED_PATHS } from './logging/logger-options';
export {
  DomainError,
  ValidationError,
  UnauthorizedError,
  ForbiddenError,
  NotFoundError,
  ConversationBusyError,
  UpstreamError,
  RateLimitedError,
  ServiceUnavailableError,
} from './errors/domain-error';
export type { ErrorType, ErrorDetail } from './errors/domain-error';
export { processEnv } from './config/process-env';
export { closeRedis } from './redis/close-redis';
