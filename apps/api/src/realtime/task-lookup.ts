// Whether a task is visible to a tenant, for `subscribe_task`.
import { Injectable } from '@nestjs/common';
import { NotFoundError } from '@lib/core';

@Injectable()
export class TaskLookup {
  /** Background tasks are not wired into the gateway yet: no task is visible. */
  async assertVisible(_tenantId: string, taskId: string): Promise<void> {
    throw new NotFoundError(`Task ${taskId}`);
  }
}
