import { Module } from '@nestjs/common';
import { AgentsModule } from '@lib/agents';
import { ConversationsModule } from '@lib/conversations';
import { LlmModule } from '@lib/llm';
import { ToolsModule } from '@lib/tools';
import { AgentRunner } from './agent-runner';
import { ChatService } from './chat.service';
import { IdempotencyStore } from './idempotency-store';

@Module({
  imports: [AgentsModule, ConversationsModule, LlmModule, ToolsModule],
  providers: [AgentRunner, ChatService, IdempotencyStore],
  exports: [AgentRunner, ChatService, IdempotencyStore],
})
export class ChatModule {}
