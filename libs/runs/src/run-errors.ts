// The refusals of the runs lib that are not core's.
import { DomainError } from '@lib/core';

/** 409 `conversation_busy`: the conversation's run waits for decisions on its tool calls; `details` say which. */
export class ConversationAwaitingApprovalError extends DomainError {
  constructor(
    readonly conversationId: string,
    readonly runId: string,
  ) {
    super(
      'conversation_busy',
      `Conversation ${conversationId} awaits approval: run ${runId} waits for decisions on its tool calls ` +
        `(POST /v1/runs/${runId}/approvals); new runs start once it has ended.`,
      [{ field: 'conversation_id', message: `awaits approval of the tool calls of run ${runId}` }],
    );
  }
}
