// Per-call token and cost records (llm_calls, written with each turn), the usage queries, budgets, cost anomalies
// and the alerts (cost anomalies, a provider rate limit near capacity).
import { Module } from '@nestjs/common';
import { LlmModule } from '@lib/llm';
import { WebhooksModule } from '@lib/webhooks';
import { CostAlertSender } from './cost-alert-sender';
import { CostAnomalies } from './cost-anomalies';
import { RateLimitAlerts } from './rate-limit-alerts';
import { ConversationCeilingPolicy } from './conversation-ceiling-policy';
import { SpendGuard } from './spend-guard';
import { UsageService } from './usage.service';

@Module({
  imports: [LlmModule, WebhooksModule],
  providers: [
    UsageService,
    SpendGuard,
    CostAnomalies,
    CostAlertSender,
    RateLimitAlerts,
    ConversationCeilingPolicy,
  ],
  exports: [UsageService, SpendGuard, CostAnomalies, ConversationCeilingPolicy],
})
export class UsageModule {}
