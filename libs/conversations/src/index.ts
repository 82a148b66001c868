export { ConversationsModule } from './conversations.module';
export { ConversationStore, ConversationTakenOverError, titleFrom } from './conversation-store';
export { ConversationContextStore } from './context-store';
export { ConversationLock, ConversationLeaseLostError } from './conversation-lock';
export type { ConversationLease } from './conversation-lock';
export type {
  Conversation,
  ConversationSummary,
  StoredMessage,
  NewConversation,
  LlmCallRecord,
  LlmCallStatus,
  TurnRecord,
  AppendedTurn,
  Page,
  RunBirth,
  RunEnding,
  RunStepRow,
} from './records';
