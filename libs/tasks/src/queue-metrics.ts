// `queue_jobs{queue, state}`: the Bull queues' job counts, read from Redis when Prometheus scrapes. Every process
// that has the queues reports the same queue-wide numbers (aggregate with max, not sum).
import { InjectQueue } from '@nestjs/bull';
import { Injectable, OnModuleInit } from '@nestjs/common';
import type { Queue } from 'bull';
import { Metrics, queueJobs } from '@lib/core';
import { WEBHOOKS_QUEUE } from '@lib/webhooks';
import { AGENT_TASKS_QUEUE } from './task-queue';

const STATES = ['waiting', 'active', 'delayed', 'completed', 'failed', 'paused'] as const;
/** A scrape must not hang on a Redis that does not answer. */
const COUNT_TIMEOUT_MS = 1_000;

@Injectable()
export class QueueMetrics implements OnModuleInit {
  constructor(
    @InjectQueue(AGENT_TASKS_QUEUE) private readonly tasks: Queue,
    @InjectQueue(WEBHOOKS_QUEUE) private readonly webhooks: Queue,
    private readonly metrics: Metrics,
  ) {}

  onModuleInit(): void {
    const queues = [this.tasks, this.webhooks];
    queueJobs(this.metrics, async function collect() {
      this.reset();
      for (const queue of queues) {
        const counts = await countsOf(queue);
        if (!counts) continue;
        for (const state of STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
      }
    });
  }
}

async function countsOf(queue: Queue): Promise<Record<string, number> | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), COUNT_TIMEOUT_MS);
  });
  try {
    const counts = queue.getJobCounts().then(
      (result) => result as unknown as Record<string, number>,
      () => null,
    );
    return await Promise.race([counts, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
