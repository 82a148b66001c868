export { WebhooksModule } from './webhooks.module';
export { WebhookOutbox } from './webhook-outbox';
export type { NewWebhookEvent } from './webhook-outbox';
export type { Queryable, AttemptRecord } from './outbox-repository';
export { WebhookAttempts } from './webhook-attempts';
export type { AttemptResult } from './webhook-attempts';
export { WEBHOOKS_QUEUE } from './webhook-queue';
export type { WebhookJob } from './webhook-queue';
export {
  OutboundUrlPolicy,
  OutboundTargetRefused,
  OutboundHostUnresolved,
  refusedAddressReason,
} from './outbound-url-policy';
export type { Lookup, ResolvedTarget } from './outbound-url-policy';
