export { AppConfig } from './config/app-config';
export type { LogFormat, NodeEnv, ModelPriceSetting } from './config/app-config';
export { loadConfig, ConfigError } from './config/load-config';
export { dataSourceOptions } from './database/data-source-options';
export type { DatabaseSettings } from './database/data-source-options';
export { ensureDatabaseExists } from './database/ensure-database';
export { PreparedStatement } from './database/prepared-statement';
export { DEMO_TEMPLATE_TENANT } from './database/demo-data';
export { Clock, SystemClock } from './clock';
export { IdGenerator, RandomIdGenerator } from './id-generator';
export { CoreModule } from './core.module';
export type { CoreModuleOptions } from './core.module';
export { RedisService } from './redis/redis.service';
export { RedisSubscriber } from './redis/redis-subscriber';
export { REDACTED_PATHS } from './logging/logger-options';
export {
  DomainError,
  ValidationError,
  UnauthorizedError,
  ForbiddenError,
  NotFoundError,
  ConflictError,
  ConversationBusyError,
  UpstreamError,
  RateLimitedError,
  ServiceUnavailableError,
  BudgetExceededError,
} from './errors/domain-error';
export { Metrics } from './metrics/metrics';
export { MetricsServer } from './metrics/metrics-server';
export {
  httpRequestDuration,
  socketConnections,
  llmCallDuration,
  llmTimeToFirstToken,
  llmTokens,
  llmCost,
  toolDuration,
  taskDuration,
  lockConflicts,
  queueJobs,
} from './metrics/operations-metrics';
export type { TokenKind } from './metrics/operations-metrics';
export { LogContext } from './logging/log-context';
export type { LogFields } from './logging/log-context';
export { ShutdownState } from './lifecycle/shutdown-state';
export { onShutdownSignal } from './lifecycle/shutdown-signals';
export { BackingServiceError, checkBackingServices } from './lifecycle/backing-services';
export {
  tracer,
  tracingActive,
  traceCarrier,
  contextFrom,
  recordSpanError,
  inSpan,
} from './telemetry/trace-context';
export type { TraceCarrier } from './telemetry/trace-context';
export type { ErrorType, ErrorDetail } from './errors/domain-error';
export { loadProcessConfigOrExit, processEnv } from './config/process-env';
export { closeRedis } from './redis/close-redis';
export { signWebhook, webhookHeaders, webhookKey } from './webhooks/standard-webhooks';
export * from './events/server-events';
export { SERVER_EVENT_SCHEMAS, CLIENT_EVENT_SCHEMAS, CLIENT_ACK_SCHEMAS } from './events/event-schemas';
export { SERVER_EVENT_EXAMPLES, CLIENT_EVENT_EXAMPLES, CLIENT_ACK_EXAMPLES } from './events/event-examples';
export { buildAsyncApiDocument } from './events/asyncapi-document';
export type { AsyncApiDocument, AsyncApiTarget } from './events/asyncapi-document';
export type { JsonSchema } from './events/json-schema';
