// The task API the transports use: create, read, list and cancel, every one scoped to the caller's tenant.
import { Injectable, Logger } from '@nestjs/common';
import { AppConfig, IdGenerator, NotFoundError, ServiceUnavailableError, ValidationError } from '@lib/core';
import { AgentRegistry } from '@lib/agents';
import { ChatService } from '@lib/chat';
import { RunSupervisor } from '@lib/runs';
import { OutboundUrlPolicy } from '@lib/webhooks';
import { TaskLifecycle } from './task-lifecycle';
import { TaskQueue } from './task-queue';
import { TaskRepository } from './task-repository';
import { isFinal, NewTask, Task, TaskPage, TaskState } from './task-records';

/** How long `cancel` waits for a running task to stop before answering its current status. */
const CANCEL_WAIT_MS = 3_000;
const CANCEL_POLL_MS = 50;
const ENQUEUE_TIMEOUT_MS = 5_000;

@Injectable()
export class TaskService {
  private readonly logger = new Logger('Tasks');

  constructor(
    private readonly tasks: TaskRepository,
    private readonly queue: TaskQueue,
    private readonly lifecycle: TaskLifecycle,
    private readonly runs: RunSupervisor,
    private readonly agents: AgentRegistry,
    private readonly webhooks: OutboundUrlPolicy,
    private readonly ids: IdGenerator,
    private readonly config: AppConfig,
    private readonly chat: ChatService,
  ) {}

  /**
   * Stores the task, then queues its job (job id = task id). Should the job not be queued, the row is removed
   * and the caller gets 503; should the process die in between, start-up recovery queues it.
   */
  async create(tenantId: string, input: NewTask): Promise<Task> {
    this.runs.assertAcceptableMessage(input.instruction, 'instruction');
    const agent = await this.agents.resolve(tenantId, input.agentName);
    // 402 budget_exceeded once the tenant's daily budget has no room for the task's first call.
    await this.chat.assertWithinBudget({ tenantId, agent, message: input.instruction });
    if (input.webhookUrl) {
      if (!this.config.webhookSecret) {
        throw new ValidationError(
          'Webhooks are not configured on this deployment (WEBHOOK_SECRET is unset).',
          [{ field: 'webhook_url', message: 'cannot be used until WEBHOOK_SECRET is set' }],
        );
      }
      await this.webhooks.assertAcceptable(input.webhookUrl);
    }
    const task = await this.tasks.insert(
      tenantId,
      { id: this.ids.uuid(), conversationId: this.ids.uuid() },
      this.queue.taskQueueName,
      // The task runs with the version current now, whatever is saved before a worker takes it.
      { ...input, agentName: agent.name, agentPin: { agentId: agent.id, version: agent.version } },
    );
    try {
      await withTimeout(
        this.queue.enqueueTask({ taskId: task.id, requestId: task.requestId }),
        ENQUEUE_TIMEOUT_MS,
      );
    } catch (error) {
      this.logger.error({ err: error, task_id: task.id }, `Task ${task.id} could not be queued`);
      await this.tasks.delete(task.id);
      throw new ServiceUnavailableError('The task queue is unavailable; retry shortly.', 5);
    }
    return task;
  }

  /** The task, or NotFoundError — also when it belongs to another tenant. */
  async get(tenantId: string, id: string): Promise<Task> {
    const task = await this.tasks.findForTenant(tenantId, id);
    if (!task) throw new NotFoundError(`Task ${id}`);
    return task;
  }

  list(tenantId: string, filter: { status?: TaskState; page: number; pageSize: number }): Promise<TaskPage> {
    return this.tasks.list(tenantId, filter);
  }

  /**
   * A queued task's job is removed and the task ends `cancelled` at once. A running one is told to stop
   * (PostgreSQL and a Redis message): its worker aborts the model call and ends it `cancelled`; this waits
   * briefly for that. A finished task is answered as it is.
   */
  async cancel(tenantId: string, id: string): Promise<Task> {
    const task = await this.get(tenantId, id);
    if (isFinal(task.status)) return task;
    const requested = await this.tasks.requestCancel(tenantId, id);
    if (!requested) return this.get(tenantId, id);
    if (requested.status === 'queued') {
      const removal = await this.queue.removeTask(id);
      if (removal !== 'active') {
        const cancelled = await this.lifecycle.finish(id, 'cancelled', {});
        return cancelled ?? this.get(tenantId, id);
      }
    }
    if (requested.status === 'requires_action' && requested.runId) {
      // Its run waits for a decision: it ends cancelled where it is, and so does the task (no worker holds it).
      await this.runs.cancel(tenantId, requested.runId);
      const cancelled = await this.lifecycle.finish(id, 'cancelled', {});
      if (cancelled) return cancelled;
    }
    // While the task runs, its run is the one going on its conversation.
    await this.runs.cancelConversation(task.conversationId).catch((error: Error) => {
      // The worker still sees cancel_requested_at at its next step.
      this.logger.warn(`The cancel of task ${id} was not published: ${error.message}`);
    });
    return this.waitUntilFinished(tenantId, id, CANCEL_WAIT_MS);
  }

  private async waitUntilFinished(tenantId: string, id: string, timeoutMs: number): Promise<Task> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = await this.get(tenantId, id);
      if (isFinal(task.status) || Date.now() >= deadline) return task;
      await new Promise((resolve) => setTimeout(resolve, CANCEL_POLL_MS));
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms.`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
