export { RealtimeModule } from './realtime.module';
export {
  RealtimePublisher,
  CHAT_NAMESPACE,
  CONVERSATION_ROOM_PREFIX,
  conversationRoom,
  taskRoom,
} from './realtime-publisher';
export { TurnCancellations } from './turn-cancellations';
export { LiveTurns, wirePayload } from './live-turns';
export type { LiveTurn, LiveTurnEvent, TurnErrorEvent } from './live-turns';
export { ConversationWatchers } from './conversation-watchers';
export type { TurnWatch } from './conversation-watchers';
