export { RealtimeModule } from './realtime.module';
export { RealtimePublisher, CHAT_NAMESPACE, conversationRoom, taskRoom } from './realtime-publisher';
export { TurnCancellations } from './turn-cancellations';
export { LiveTurns, wirePayload } from './live-turns';
export type { LiveTurn, LiveTurnEvent, TurnErrorEvent } from './live-turns';
