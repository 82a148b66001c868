import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { TaskService, TaskWebhooks, toTaskStatus } from '@lib/tasks';
import { ApiErrors, ApiKeyAuth } from '../http/api-errors';
import { TenantId } from '@lib/auth';
import { uuidParam } from '../http/uuid-param';
import {
  CreateTaskDto,
  RedeliveryDto,
  TaskCreatedDto,
  TaskListDto,
  TaskListQueryDto,
  TaskStatusDto,
  WebhookDeliveriesDto,
} from './task.dto';

@ApiTags('tasks')
@ApiKeyAuth()
@Controller('v1/tasks')
export class TasksController {
  constructor(
    private readonly tasks: TaskService,
    private readonly webhooks: TaskWebhooks,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary: 'Start a background agent task',
    description:
      'Stores the task and queues it; a worker runs the agent. Follow it with `GET /v1/tasks/{id}`, the ' +
      '`subscribe_task` socket event, or a webhook. Runs are at-least-once: a run whose worker died is re-run.',
  })
  @ApiAcceptedResponse({ type: TaskCreatedDto })
  @ApiErrors(400, 402, 413, 503)
  async create(
    @Body() body: CreateTaskDto,
    @TenantId() tenantId: string,
    @Req() request: FastifyRequest,
  ): Promise<TaskCreatedDto> {
    const task = await this.tasks.create(tenantId, {
      agentName: body.agent_name,
      instruction: body.instruction,
      webhookUrl: body.webhook_url ?? null,
      metadata: body.metadata,
      requestId: String(request.id),
    });
    return { task_id: task.id, status: 'queued' };
  }

  @Get()
  @ApiOperation({ summary: "The tenant's tasks, newest first" })
  @ApiOkResponse({ type: TaskListDto })
  @ApiErrors(400)
  async list(@Query() query: TaskListQueryDto, @TenantId() tenantId: string): Promise<TaskListDto> {
    const { items, total } = await this.tasks.list(tenantId, {
      status: query.status,
      page: query.page,
      pageSize: query.page_size,
    });
    return { tasks: items.map(toTaskStatus), total, page: query.page, page_size: query.page_size };
  }

  @Get(':id')
  @ApiOperation({ summary: "A task's status, progress and outcome" })
  @ApiOkResponse({ type: TaskStatusDto })
  @ApiErrors(400, 404)
  async get(@Param('id', uuidParam()) id: string, @TenantId() tenantId: string): Promise<TaskStatusDto> {
    return toTaskStatus(await this.tasks.get(tenantId, id));
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Cancel a task',
    description:
      'A queued task ends `cancelled` at once. A running one stops at its next step (its model call is ' +
      'aborted); the answer waits a few seconds for that, then gives the status as it is. A finished task ' +
      'is answered unchanged.',
  })
  @ApiOkResponse({ type: TaskStatusDto })
  @ApiErrors(400, 404)
  async cancel(@Param('id', uuidParam()) id: string, @TenantId() tenantId: string): Promise<TaskStatusDto> {
    return toTaskStatus(await this.tasks.cancel(tenantId, id));
  }

  @Get(':id/deliveries')
  @ApiOperation({
    summary: "Every delivery attempt of a task's webhook",
    description:
      'One entry per attempt, in order: status code (null when no answer came), error, duration and time. Empty ' +
      'until the task has ended, and for a task without `webhook_url`.',
  })
  @ApiOkResponse({ type: WebhookDeliveriesDto })
  @ApiErrors(400, 404)
  async deliveries(
    @Param('id', uuidParam()) id: string,
    @TenantId() tenantId: string,
  ): Promise<WebhookDeliveriesDto> {
    const attempts = await this.webhooks.deliveries(tenantId, id);
    return {
      deliveries: attempts.map((attempt) => ({
        webhook_id: attempt.webhookId,
        event: attempt.event,
        attempt: attempt.attempt,
        status_code: attempt.statusCode,
        error: attempt.error,
        duration_ms: attempt.durationMs,
        at: attempt.at.toISOString(),
      })),
    };
  }

  @Post(':id/deliveries/redeliver')
  @HttpCode(202)
  @ApiOperation({
    summary: "Send a task's webhook event again",
    description:
      'A new attempt of the same event with the same `webhook-id`, made at once (or, while the queue is ' +
      'unreachable, as soon as it is back). A delivered or given-up event gets one attempt; an event still being ' +
      'retried has its next attempt brought forward. 404 while the task has no event (no `webhook_url`, or not ended).',
  })
  @ApiAcceptedResponse({ type: RedeliveryDto })
  @ApiErrors(400, 404)
  async redeliver(
    @Param('id', uuidParam()) id: string,
    @TenantId() tenantId: string,
  ): Promise<RedeliveryDto> {
    const redelivery = await this.webhooks.redeliver(tenantId, id);
    return { webhook_id: redelivery.webhookId, event: redelivery.event, attempt: redelivery.attempt };
  }
}
