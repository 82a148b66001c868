// Background agent tasks: the Bull queues, task state in PostgreSQL, the processor logic and webhook delivery.
// The API imports it to create, read and cancel tasks; the worker (or the API, when it runs the processors)
// adds the @Processor classes on top.
import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AgentsModule } from '@lib/agents';
import { ChatModule } from '@lib/chat';
import { ConversationsModule } from '@lib/conversations';
import { RealtimeModule } from '@lib/realtime';
import { RunsModule } from '@lib/runs';
import { WebhooksModule } from '@lib/webhooks';
import { BullTaskQueue } from './bull-task-queue';
import { TaskExecutor } from './task-executor';
import { TaskLifecycle } from './task-lifecycle';
import { AGENT_TASKS_QUEUE, TaskQueue } from './task-queue';
import { TaskRecovery } from './task-recovery';
import { TaskResumptions } from './task-resumptions';
import { QueueMetrics } from './queue-metrics';
import { TaskRepository } from './task-repository';
import { TaskService } from './task.service';
import { TaskEntity } from './task.entity';
import { TaskWebhooks } from './task-webhooks';

@Module({
  imports: [
    // The Bull root configuration comes with WebhooksModule.
    WebhooksModule,
    BullModule.registerQueue({ name: AGENT_TASKS_QUEUE }),
    TypeOrmModule.forFeature([TaskEntity]),
    AgentsModule,
    ChatModule,
    ConversationsModule,
    RealtimeModule,
    RunsModule,
  ],
  providers: [
    TaskRepository,
    { provide: TaskQueue, useClass: BullTaskQueue },
    TaskLifecycle,
    TaskService,
    TaskExecutor,
    TaskRecovery,
    TaskResumptions,
    TaskWebhooks,
    QueueMetrics,
  ],
  exports: [BullModule, WebhooksModule, TaskService, TaskWebhooks, TaskExecutor, TaskRecovery],
})
export class TasksModule {}
