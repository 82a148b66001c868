import { Module } from '@nestjs/common';
import { AgentsModule } from '@lib/agents';
import { ConversationsModule } from '@lib/conversations';
import { LlmModule } from '@lib/llm';
import { ToolsModule } from '@lib/tools';
import { UsageModule } from '@lib/usage';
import { AgentRunner } from './agent-runner';
import { ChatService } from './chat.service';
import { ContextWindow } from './context-window';
import { IdempotencyStore } from './idempotency-store';
import { TurnTelemetry } from './turn-telemetry';

@Module({
  imports: [AgentsModule, ConversationsModule, LlmModule, ToolsModule, UsageModule],
  providers: [AgentRunner, ChatService, ContextWindow, IdempotencyStore, TurnTelemetry],
  exports: [AgentRunner, ChatService, IdempotencyStore],
})
export class ChatModule {}
