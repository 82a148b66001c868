// What the supervisor needs of the rest of the system besides runs themselves: settings, the shutdown state, ids,
// the conversation lock, the conversations' owner and the runs' journal.
import { Injectable } from '@nestjs/common';
import { AppConfig, IdGenerator, ShutdownState } from '@lib/core';
import { Conversation, ConversationLock, ConversationStore } from '@lib/conversations';
import { ApprovalGates } from './approval-gates';
import { RunJournal } from './run-journal';

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

  /** The tenant's conversation (404 for another tenant's or a missing one). */
  conversations(tenantId: string, conversationId: string): Promise<Conversation> {
    return this.store.get(tenantId, conversationId);
  }
}
