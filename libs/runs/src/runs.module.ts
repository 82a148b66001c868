import { Module } from '@nestjs/common';
import { ChatModule } from '@lib/chat';
import { ConversationsModule } from '@lib/conversations';
import { EventLog } from './event-log';
import { RunCancellations } from './run-cancellations';
import { RunExecutor } from './run-executor';
import { RunFeed } from './run-feed';
import { RunInfrastructure } from './run-infrastructure';
import { RunJournal } from './run-journal';
import { RunRecovery } from './run-recovery';
import { RunRepository } from './run-repository';
import { RunSupervisor } from './run-supervisor';

@Module({
  imports: [ChatModule, ConversationsModule],
  providers: [
    RunRepository,
    EventLog,
    RunFeed,
    RunCancellations,
    RunExecutor,
    RunInfrastructure,
    RunJournal,
    RunRecovery,
    RunSupervisor,
  ],
  exports: [RunSupervisor, RunFeed, RunCancellations, RunJournal],
})
export class RunsModule {}
