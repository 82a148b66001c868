// Per-call token and cost records (llm_calls, written with each turn), the usage queries, budgets and cost anomalies.
import { Module } from '@nestjs/common';
import { LlmModule } from '@lib/llm';
import { CostAlertSender } from './cost-alert-sender';
import { CostAnomalies } from './cost-anomalies';
import { ConversationCeilingPolicy } from './conversation-ceiling-policy';
import { SpendGuard } from './spend-guard';
import { UsageService } from './usage.service';

@Module({
  imports: [LlmModule],
  providers: [UsageService, SpendGuard, CostAnomalies, CostAlertSender, ConversationCeilingPolicy],
  exports: [UsageService, SpendGuard, CostAnomalies, ConversationCeilingPolicy],
})
export class UsageModule {}
