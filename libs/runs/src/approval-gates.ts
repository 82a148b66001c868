// The approval gate of a run: a call of a tool that needs a person's decision waits (its approval is recorded as
// pending) until one is recorded; an approved call runs, a denied or expired one is refused to the model.
import { Injectable } from '@nestjs/common';
import { AppConfig } from '@lib/core';
import type { ToolGate } from '@lib/chat';
import { refusalText, toPendingView } from './approval-records';
import type { Run } from './run-records';
import { ApprovalRepository } from './approval-repository';
import { argumentsSha256 } from './canonical-json';

@Injectable()
export class ApprovalGates {
  constructor(
    private readonly approvals: ApprovalRepository,
    private readonly config: AppConfig,
  ) {}

  /** Adds their waiting tool calls to the runs that wait for decisions. */
  async withPending<T extends Run>(runs: T[]): Promise<T[]> {
    const waiting = runs.filter((run) => run.status === 'requires_action').map((run) => run.id);
    if (!waiting.length) return runs;
    const pending = await this.approvals.pendingOf(waiting);
    return runs.map((run) =>
      run.status === 'requires_action'
        ? { ...run, pendingApprovals: (pending.get(run.id) ?? []).map(toPendingView) }
        : run,
    );
  }

  /**
   * The gate of run `runId`. The loop asks it only about calls of tools that need a decision (see ToolGate), with
   * the turn's tenant and conversation: nothing is read here before the call is recorded.
   */
  for(runId: string): ToolGate {
    return {
      decide: async (use, { tenantId, conversationId }) => {
        const input = use.input ?? {};
        // Recorded as pending the first time; a re-execution of the run finds it as it was decided since.
        const [approval] = await this.approvals.record([
          {
            runId,
            toolUseId: use.id,
            tenantId,
            conversationId,
            toolName: use.name,
            arguments: input,
            argumentsSha256: argumentsSha256(input),
            timeoutSeconds: this.config.approvalTimeoutSeconds,
          },
        ]);
        switch (approval.status) {
          case 'pending':
            return { action: 'pause' };
          case 'approved':
            // The decision is bound to the arguments it was asked for: other arguments under that id never run.
            return approval.argumentsSha256 === argumentsSha256(input)
              ? { action: 'run' }
              : {
                  action: 'deny',
                  reason: 'This tool call was not run: its arguments changed after approval.',
                };
          default:
            return { action: 'deny', reason: refusalText(approval) };
        }
      },
    };
  }
}
