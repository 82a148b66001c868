// Per-call token and cost records (llm_calls, written with each turn), the usage queries, budgets and cost anomalies.
import { Module } from '@nestjs/common';
import { LlmModule } from '@lib/llm';
import { WebhooksModule } from '@lib/webhooks';
import { CostAlertSender } from './cost-alert-sender';
import { CostAnomalies } from './cost-anomalies';
import { SpendGuard } from './spend-guard';
import { UsageService } from './usage.service';

@Module({
  imports: [LlmModule, WebhooksModule],
  providers: [UsageService, SpendGuard, CostAnomalies, CostAlertSender],
  exports: [UsageService, SpendGuard, CostAnomalies],
})
export class UsageModule {}
