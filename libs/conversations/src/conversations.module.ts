import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ConversationEntity, LlmCallEntity, MessageEntity } from './entities';
import { ConversationStore } from './conversation-store';
import { ConversationLock } from './conversation-lock';

@Module({
  imports: [TypeOrmModule.forFeature([ConversationEntity, MessageEntity, LlmCallEntity])],
  providers: [ConversationStore, ConversationLock],
  exports: [ConversationStore, ConversationLock],
})
export class ConversationsModule {}
