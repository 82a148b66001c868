// A task's webhook deliveries as its owner sees them: every attempt, and a redelivery of its event. Tenant-scoped:
// another tenant's task is not found.
import { Injectable } from '@nestjs/common';
import { NotFoundError } from '@lib/core';
import { AttemptRecord, WebhookOutbox } from '@lib/webhooks';
import { TaskRepository } from './task-repository';

@Injectable()
export class TaskWebhooks {
  constructor(
    private readonly tasks: TaskRepository,
    private readonly outbox: WebhookOutbox,
  ) {}

  async deliveries(tenantId: string, taskId: string): Promise<AttemptRecord[]> {
    await this.assertTask(tenantId, taskId);
    return this.outbox.attemptsOfTask(taskId);
  }

  /** A new attempt of the task's event under the same webhook id; NotFoundError when the task has no event yet. */
  async redeliver(
    tenantId: string,
    taskId: string,
  ): Promise<{ webhookId: string; event: string; attempt: number }> {
    await this.assertTask(tenantId, taskId);
    const redelivery = await this.outbox.redeliverTask(taskId);
    if (!redelivery) {
      throw new NotFoundError(
        `A webhook event of task ${taskId} (it has no webhook_url, or has not ended yet)`,
      );
    }
    return redelivery;
  }

  private async assertTask(tenantId: string, taskId: string): Promise<void> {
    if (!(await this.tasks.findForTenant(tenantId, taskId))) throw new NotFoundError(`Task ${taskId}`);
  }
}
