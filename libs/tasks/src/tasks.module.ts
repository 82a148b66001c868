// Background agent tasks: the Bull queues, task state in PostgreSQL, the processor logic and webhook delivery.
// The API imports it to create, read and cancel tasks; the worker (or the API, when it runs the processors)
// adds the @Processor classes on top.
import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '@lib/core';
import { AgentsModule } from '@lib/agents';
import { ChatModule } from '@lib/chat';
import { ConversationsModule } from '@lib/conversations';
import { RealtimeModule } from '@lib/realtime';
import { RunsModule } from '@lib/runs';
import { BullTaskQueue } from './bull-task-queue';
import { TaskExecutor } from './task-executor';
import { TaskLifecycle } from './task-lifecycle';
import { AGENT_TASKS_QUEUE, TaskQueue, WEBHOOKS_QUEUE } from './task-queue';
import { TaskRecovery } from './task-recovery';
import { QueueMetrics } from './queue-metrics';
import { TaskRepository } from './task-repository';
import { TaskService } from './task.service';
import { TaskEntity, WebhookDeliveryEntity } from './task.entity';
import { WebhookDeliverer } from './webhook-deliverer';
import { WebhookUrlPolicy } from './webhook-url-policy';

@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        url: config.redisUrl,
        prefix: config.queuePrefix,
        settings: {
          // A worker that dies (SIGKILL, OOM, lost host) stops renewing its lock; after lockDuration another
          // worker's stalled check (every stalledInterval) puts the job back, up to maxStalledCount times.
          lockDuration: config.taskLockDurationMs,
          lockRenewTime: Math.floor(config.taskLockDurationMs / 2),
          stalledInterval: config.taskStalledIntervalMs,
          maxStalledCount: config.taskMaxStalledCount,
        },
      }),
    }),
    BullModule.registerQueue({ name: AGENT_TASKS_QUEUE }, { name: WEBHOOKS_QUEUE }),
    TypeOrmModule.forFeature([TaskEntity, WebhookDeliveryEntity]),
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
    WebhookUrlPolicy,
    WebhookDeliverer,
    QueueMetrics,
  ],
  exports: [BullModule, TaskService, TaskExecutor, TaskRecovery, WebhookDeliverer, WebhookUrlPolicy],
})
export class TasksModule {}
