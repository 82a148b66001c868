// Decisions on waiting tool calls, and the tenant's inbox of them. A decision that leaves its run with nothing to
// wait for re-executes the run (see RunResumption): on this instance, or in a worker for a task's run.
import { Injectable } from '@nestjs/common';
import { ValidationError } from '@lib/core';
import { ApprovalView, Decision, toApprovalView } from './approval-records';
import { ApprovalRepository } from './approval-repository';
import { RunResumption } from './run-resumption';

@Injectable()
export class RunApprovals {
  constructor(
    private readonly approvals: ApprovalRepository,
    private readonly resumption: RunResumption,
  ) {}

  async page(
    tenantId: string,
    status: 'pending' | 'decided',
    page: number,
    pageSize: number,
  ): Promise<{ approvals: ApprovalView[]; total: number }> {
    const { approvals, total } = await this.approvals.page(tenantId, status, page, pageSize);
    return { approvals: approvals.map(toApprovalView), total };
  }

  /**
   * Records decisions on the tenant's run (all or none; see ApprovalRepository.decide for the refusals), recorded
   * with the deciding key. Once nothing of the run waits any more, the run is re-executed.
   */
  async decide(
    tenantId: string,
    runId: string,
    decisions: Decision[],
    decidedBy: string | null,
  ): Promise<void> {
    const seen = new Set<string>();
    decisions.forEach((decision, index) => {
      if (seen.has(decision.toolUseId)) {
        throw new ValidationError('The request is invalid.', [
          {
            field: `decisions[${index}].tool_use_id`,
            message: 'names a tool call decided earlier in this request',
          },
        ]);
      }
      seen.add(decision.toolUseId);
    });
    const outcome = await this.approvals.decide(tenantId, runId, decisions, decidedBy);
    if (outcome.stillPending === 0) await this.resumption.resume(runId);
  }
}
