import { Module } from '@nestjs/common';
import { ChatModule } from '@lib/chat';
import { ConversationWatchers } from './conversation-watchers';
import { LiveTurns } from './live-turns';
import { RealtimePublisher } from './realtime-publisher';
import { TurnCancellations } from './turn-cancellations';

@Module({
  imports: [ChatModule],
  providers: [RealtimePublisher, TurnCancellations, ConversationWatchers, LiveTurns],
  exports: [RealtimePublisher, TurnCancellations, ConversationWatchers, LiveTurns],
})
export class RealtimeModule {}
