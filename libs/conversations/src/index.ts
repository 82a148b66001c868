export { ConversationsModule } from './conversations.module';
export { ConversationStore, titleFrom } from './conversation-store';
export { ConversationLock } from './conversation-lock';
export type { ConversationLease } from './conversation-lock';
export type {
  Conversation,
  StoredMessage,
  NewConversation,
  LlmCallRecord,
  TurnRecord,
  AppendedTurn,
  Page,
} from './records';
