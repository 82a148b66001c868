// The queue consumers. The worker app always loads them; the API loads them too when RUN_WORKERS_IN_API is on.
import { Module } from '@nestjs/common';
import { TasksModule } from '../tasks.module';
import { AgentTaskProcessor } from './agent-task.processor';
import { WebhookProcessor } from './webhook.processor';
import { QueueConsumers } from './queue-consumers';

@Module({
  imports: [TasksModule],
  providers: [AgentTaskProcessor, WebhookProcessor, QueueConsumers],
  exports: [QueueConsumers],
})
export class TaskProcessorsModule {}
