// The approval gate of a run: a call of a tool that needs a person's decision waits (its approval is recorded as
// pending) until one is recorded; an approved call runs, a denied or expired one is refused to the model.
import { Injectable } from '@nestjs/common';
import { AppConfig } from '@lib/core';
import { AgentRegistry, approvalTools } from '@lib/agents';
import type { ToolGate } from '@lib/chat';
import { refusalText, toPendingView } from './approval-records';
import type { Run } from './run-records';
import { ApprovalRepository } from './approval-repository';
import { argumentsSha256 } from './canonical-json';

@Injectable()
export class ApprovalGates {
  constructor(
    private readonly approvals: ApprovalRepository,
    private readonly agents: AgentRegistry,
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
   * The gate of run `runId`: a call of a tool that its agent's operator or its conversation names waits for a decision.
   * Which tools those are is read at the run's first tool call (its conversation may be created by its first turn).
   */
  for(runId: string): ToolGate {
    let gated: Promise<{ tenantId: string; conversationId: string; tools: Set<string> }> | undefined;
    const scope = () =>
      (gated ??= this.approvals.scopeOf(runId).then(async (found) => {
        // The agent version the conversation runs with: its operator's approvals are that version's.
        const agent = await this.agents.pinned(found.tenantId, found.agentPin, found.agentName);
        return {
          tenantId: found.tenantId,
          conversationId: found.conversationId,
          tools: new Set(approvalTools(agent, found.requireApproval)),
        };
      }));
    return {
      decide: async (use) => {
        const { tenantId, conversationId, tools } = await scope();
        if (!tools.has(use.name)) return { action: 'run' };
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
