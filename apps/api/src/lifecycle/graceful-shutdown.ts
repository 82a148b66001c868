// The API's drain on SIGTERM, before connections close: readiness turns 503 and new turns are refused at once;
// sockets without a turn here are sent to reconnect elsewhere; running turns (and jobs, when this process runs the
// queue consumers) get SHUTDOWN_GRACE_MS to finish; runs still running then are handed back (they stop without
// ending, their callers get 503, and another instance resumes them from their journal), and jobs still running are
// handed back to the queue; then every socket is released.
import { Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { AppConfig, ShutdownState } from '@lib/core';
import { RunCancellations } from '@lib/runs';
import { ChatGateway } from '../realtime/chat.gateway';
import { QueueConsumers } from '@lib/tasks';

/** How long handed-back runs get to stop. */
const HANDED_BACK_SETTLE_MS = 10_000;

export interface DrainReport {
  turnsFinished: boolean;
  turnsCancelled: number;
  jobsHandedBack: string[];
}

@Injectable()
export class GracefulShutdown {
  private readonly logger = new Logger('Shutdown');

  constructor(
    private readonly state: ShutdownState,
    private readonly config: AppConfig,
    private readonly turns: RunCancellations,
    private readonly gateway: ChatGateway,
    private readonly moduleRef: ModuleRef,
  ) {}

  async drain(): Promise<DrainReport> {
    const grace = this.config.shutdownGraceMs;
    this.state.begin();
    const released = this.gateway.releaseSockets('idle');
    const consumers = this.queueConsumers();
    this.logger.log(
      `Draining: readiness answers 503 and new turns are refused; ${released} idle socket(s) sent elsewhere; ` +
        `waiting up to ${grace} ms for ${this.turns.runningCount} turn(s)` +
        (consumers ? ` and ${consumers.runningCount} job(s)` : ''),
    );
    const [turnsFinished, jobsFinished] = await Promise.all([
      this.turns.whenIdle(grace),
      consumers ? consumers.drain(grace) : Promise.resolve(true),
    ]);
    let turnsCancelled = 0;
    if (!turnsFinished) {
      turnsCancelled = this.turns.runningCount;
      this.logger.warn(
        `Handing back ${turnsCancelled} run(s) still running after ${grace} ms: another instance resumes them.`,
      );
      this.turns.handBackAll();
      await this.turns.whenIdle(HANDED_BACK_SETTLE_MS);
    }
    const jobsHandedBack = jobsFinished || !consumers ? [] : await consumers.handBack();
    this.gateway.releaseSockets('all');
    this.logger.log('Drained: closing connections.');
    return { turnsFinished, turnsCancelled, jobsHandedBack };
  }

  /** Present when this process runs the queue consumers (RUN_WORKERS_IN_API). */
  private queueConsumers(): QueueConsumers | null {
    try {
      return this.moduleRef.get(QueueConsumers, { strict: false });
    } catch {
      return null;
    }
  }
}
