import { Module } from '@nestjs/common';
import { ChatModule } from '@lib/chat';
import { LiveTurns } from './live-turns';
import { RealtimePublisher } from './realtime-publisher';
import { TurnCancellations } from './turn-cancellations';

@Module({
  imports: [ChatModule],
  providers: [RealtimePublisher, TurnCancellations, LiveTurns],
  exports: [RealtimePublisher, TurnCancellations, LiveTurns],
})
export class RealtimeModule {}
