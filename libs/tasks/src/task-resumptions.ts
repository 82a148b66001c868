// A task whose run waited for decisions is re-executed by a worker, like any task: the decision (or the approval
// sweeper) queues a job for it, so the run holds a worker slot only while it runs, and the task's end (status,
// `task_done`, webhook) is recorded by the executor as for every other run.
import { Injectable, OnModuleInit } from '@nestjs/common';
import { RunResumption } from '@lib/runs';
import { TaskQueue } from './task-queue';

@Injectable()
export class TaskResumptions implements OnModuleInit {
  constructor(
    private readonly resumption: RunResumption,
    private readonly queue: TaskQueue,
  ) {}

  onModuleInit(): void {
    this.resumption.resumeTasksWith(({ taskId, key }) => this.queue.enqueueResumption({ taskId }, key));
  }
}
