// What the supervisor needs of the rest of the system besides runs themselves: settings, the shutdown state, ids,
// the conversation lock, the conversations' owner and the runs' journal.
import { Injectable } from '@nestjs/common';
import { AppConfig, IdGenerator, ShutdownState } from '@lib/core';
import { Conversation, ConversationLock, ConversationStore, RunBirth } from '@lib/conversations';
import { StepJournal, ToolGate, TurnRequest, TurnRun } from '@lib/chat';
import { ApprovalGates } from './approval-gates';
import { RunJournal } from './run-journal';
import type { Run } from './run-records';

@Injectable()
export class RunInfrastructure {
  constructor(
    readonly config: AppConfig,
    readonly shutdown: ShutdownState,
    readonly ids: IdGenerator,
    readonly lock: ConversationLock,
    private readonly store: ConversationStore,
    readonly approvals: ApprovalGates,
    readonly journal: RunJournal,
  ) {}

  /**
   * Records (and bills) the model calls a run made but will never store with a turn: a run that ended while it
   * waited for decisions. Each call keeps the id its journal gave it, so it is recorded once however often this runs.
   */
  async recordCallsOfUnstoredRun(
    run: Pick<Run, 'id' | 'tenantId' | 'conversationId' | 'agentName'>,
  ): Promise<void> {
    const calls = (await this.journal.steps(run.id)).flatMap((step) =>
      step.kind === 'model' ? [step.call] : [],
    );
    await this.store.recordOrphanCalls(run.tenantId, run.conversationId, run.agentName, calls);
  }

  /**
   * What every execution of a run asks of ChatService.start besides the turn itself: the run holds the lock until
   * it has published its end, records its steps in `journal`, passes its tool calls through the approval gate (or
   * `gate`), and writes its row with the turn's statements (`birth`: its first execution inserts it).
   */
  execution(
    runId: string,
    signal: AbortSignal,
    journal: StepJournal,
    { birth, gate }: { birth?: RunBirth; gate?: ToolGate } = {},
  ): Pick<TurnRequest, 'runId' | 'signal' | 'holdLease' | 'journal' | 'gate' | 'run'> {
    return {
      runId,
      signal,
      holdLease: true,
      journal,
      gate: gate ?? this.approvals.for(runId),
      run: new TurnRun(birth),
    };
  }

  /** The tenant's conversation (404 for another tenant's or a missing one). */
  conversations(tenantId: string, conversationId: string): Promise<Conversation> {
    return this.store.get(tenantId, conversationId);
  }
}
