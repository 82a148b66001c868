import { Module } from '@nestjs/common';
import { AgentsModule } from '@lib/agents';
import { ChatModule } from '@lib/chat';
import { ConversationsModule } from '@lib/conversations';
import { ApprovalGates } from './approval-gates';
import { ApprovalRepository } from './approval-repository';
import { ApprovalSweeper } from './approval-sweeper';
import { EventLog } from './event-log';
import { RunApprovals } from './run-approvals';
import { RunCancellations } from './run-cancellations';
import { RunExecutor } from './run-executor';
import { RunFeed } from './run-feed';
import { RunInfrastructure } from './run-infrastructure';
import { RunJournal } from './run-journal';
import { RunRecovery } from './run-recovery';
import { RunRepository } from './run-repository';
import { RunResumption } from './run-resumption';
import { RunSupervisor } from './run-supervisor';

@Module({
  imports: [AgentsModule, ChatModule, ConversationsModule],
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
    ApprovalRepository,
    ApprovalGates,
    RunResumption,
    RunApprovals,
    ApprovalSweeper,
  ],
  exports: [
    RunSupervisor,
    RunFeed,
    RunCancellations,
    RunJournal,
    RunApprovals,
    RunResumption,
    ApprovalSweeper,
  ],
})
export class RunsModule {}
