export { UsageModule } from './usage.module';
export { UsageService, USAGE_GROUPS } from './usage.service';
export type { UsageGroup, UsageQuery, UsageReport, UsageRow } from './usage.service';
export { SpendGuard, toUnits } from './spend-guard';
export { ConversationCeilingPolicy } from './conversation-ceiling-policy';
export type { FirstCall, ReservationOutcome, SpendReservation, SpendScope } from './spend-guard';
export { CostAnomalies } from './cost-anomalies';
export type { AnomalyThreshold, ConversationCost, CostAnomaly } from './cost-anomalies';
