// Who may set a conversation's own cost ceiling to what: the operator's CONVERSATION_COST_LIMIT_USD is a guard a
// user key may tighten, never loosen; an admin key may raise it or turn it off.
import { Injectable } from '@nestjs/common';
import { AppConfig, ValidationError } from '@lib/core';

const FIELD = 'cost_limit_usd';

@Injectable()
export class ConversationCeilingPolicy {
  constructor(private readonly config: AppConfig) {}

  /**
   * Refuses (400) a ceiling the caller may not set. Omitted or null means the deployment's ceiling, which
   * anyone may ask for; `mayRaise` (an admin key) allows any value, 0 (no ceiling) included.
   */
  assertPermitted(requestedUsd: number | null | undefined, mayRaise: boolean): void {
    if (requestedUsd === undefined || requestedUsd === null || mayRaise) return;
    const deploymentUsd = this.config.conversationCostLimitUsd;
    if (requestedUsd <= 0) {
      throw this.refusal(
        deploymentUsd > 0
          ? `a user key may not remove the ceiling; give a value above 0 and at most ${deploymentUsd} USD, or leave it out`
          : 'a user key may not set 0 (no ceiling); give a value above 0, or leave it out',
      );
    }
    if (deploymentUsd > 0 && requestedUsd > deploymentUsd) {
      throw this.refusal(
        `a user key may lower the ceiling of ${deploymentUsd} USD, never raise it; give at most ${deploymentUsd}`,
      );
    }
  }

  private refusal(message: string): ValidationError {
    return new ValidationError(`The cost_limit_usd is refused: ${message}.`, [{ field: FIELD, message }]);
  }
}
