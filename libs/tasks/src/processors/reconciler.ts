// Continuous recovery: every RECONCILE_INTERVAL_MS, the process that runs the consumers reconciles PostgreSQL (the
// source of truth) with the queues — tasks `queued` with no job (Redis lost its data) are queued again, and webhook
// events still pending (a crash or an outage between the commit and the hand-over) are relayed. A PostgreSQL
// advisory lock, per queue prefix, lets one instance at a time make a pass; it works whatever state Redis is in.
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '@lib/core';
import { WebhookOutbox } from '@lib/webhooks';
import { TaskRecovery } from '../task-recovery';

export interface ReconcilePass {
  /** False when another instance held the lock: this one did nothing. */
  ran: boolean;
  requeued: string[];
  failed: string[];
  relayed: string[];
}

@Injectable()
export class Reconciler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Reconciler');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly recovery: TaskRecovery,
    private readonly outbox: WebhookOutbox,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      // A pass still running (a slow Redis) is not overtaken by the next.
      this.running ??= this.pass()
        .catch((error: Error) => this.logger.warn(`A reconciliation pass failed: ${error.message}`))
        .finally(() => (this.running = undefined));
    }, this.config.reconcileIntervalMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass, if no other instance is making one. */
  async pass(): Promise<ReconcilePass> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      // Held until this transaction ends; released by PostgreSQL should this process die.
      const [{ locked }]: Array<{ locked: boolean }> = await runner.query(
        `SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked`,
        [`reconciler:${this.config.queuePrefix}`],
      );
      if (!locked) return { ran: false, requeued: [], failed: [], relayed: [] };
      const tasks = await this.recovery.recover({ queuedOnly: true });
      const webhooks = await this.outbox.relay();
      return { ran: true, ...tasks, relayed: webhooks.handedOver };
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      await runner.release();
    }
  }
}
