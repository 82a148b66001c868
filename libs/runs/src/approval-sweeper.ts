// Fails closed without anyone calling the API: every APPROVAL_SWEEP_INTERVAL_MS, approvals past their time count
// as denied (`expired`), and runs that no longer wait for any decision are resumed — those whose approvals just
// expired, and those whose resumption was lost (the instance that recorded the last decision stopped before it
// handed the run over). Every instance sweeps; the rows' locks and the run's claim keep each step to one of them.
import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '@lib/core';
import { ApprovalRepository } from './approval-repository';
import { RunResumption } from './run-resumption';

@Injectable()
export class ApprovalSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Approvals');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly approvals: ApprovalRepository,
    private readonly resumption: RunResumption,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      // A pass still going (a slow database) is not overtaken by the next.
      this.running ??= this.sweep().finally(() => (this.running = undefined));
    }, this.config.approvalSweepIntervalMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass: expire what is due, then resume what no longer waits. */
  async sweep(): Promise<void> {
    try {
      const expired = await this.approvals.expireDue(
        `no decision within APPROVAL_TIMEOUT_SECONDS (${this.config.approvalTimeoutSeconds} s)`,
      );
      if (expired.length) this.logger.log(`Approvals of ${expired.length} run(s) expired: denied.`);
      for (const runId of await this.approvals.decidedWaitingRuns()) await this.resumption.resume(runId);
    } catch (error) {
      this.logger.warn(`An approval sweep failed: ${(error as Error).message}`);
    }
  }
}
