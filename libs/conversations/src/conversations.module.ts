import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ConversationEntity, ConversationSummaryEntity, LlmCallEntity, MessageEntity } from './entities';
import { ConversationContextStore } from './context-store';
import { ConversationStore } from './conversation-store';
import { ConversationLock } from './conversation-lock';

@Module({
  imports: [
    TypeOrmModule.forFeature([ConversationEntity, MessageEntity, LlmCallEntity, ConversationSummaryEntity]),
  ],
  providers: [ConversationStore, ConversationLock, ConversationContextStore],
  exports: [ConversationStore, ConversationLock, ConversationContextStore],
})
export class ConversationsModule {}
