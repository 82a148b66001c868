// The queue consumers and the reconciler. The worker app always loads them; the API loads them too when
// RUN_WORKERS_IN_API is on.
import { Module } from '@nestjs/common';
import { TasksModule } from '../tasks.module';
import { AgentTaskProcessor } from './agent-task.processor';
import { WebhookProcessor } from './webhook.processor';
import { QueueConsumers } from './queue-consumers';
import { Reconciler } from './reconciler';

@Module({
  imports: [TasksModule],
  providers: [AgentTaskProcessor, WebhookProcessor, QueueConsumers, Reconciler],
  exports: [QueueConsumers, Reconciler],
})
export class TaskProcessorsModule {}
