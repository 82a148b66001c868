// The API process: HTTP controllers over the libs, with the global pipe, filter, API-key guard and rate limit.
import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ThrottlerModule } from '@nestjs/throttler';
import { ApiKeyGuard, AuthModule, RedisThrottlerStorage } from '@lib/auth';
import { AppConfig, CoreModule, CoreModuleOptions, loadConfig, processEnv } from '@lib/core';
import { AgentsModule } from '@lib/agents';
import { ChatModule } from '@lib/chat';
import { ConversationsModule } from '@lib/conversations';
import { LlmModule } from '@lib/llm';
import { McpModule } from '@lib/mcp';
import { ToolsModule } from '@lib/tools';
import { RealtimeModule } from '@lib/realtime';
import { RunsModule } from '@lib/runs';
import { TaskProcessorsModule, TasksModule } from '@lib/tasks';
import { UsageModule } from '@lib/usage';
import { ApiKeysController } from './admin/api-keys.controller';
import { AgentsController } from './agents/agents.controller';
import { CatalogController } from './catalog/catalog.controller';
import { ChatController } from './chat/chat.controller';
import { ConversationsController } from './conversations/conversations.controller';
import { HealthController } from './health/health.controller';
import { AsyncApiController } from './docs/asyncapi.controller';
import { TasksController } from './tasks/tasks.controller';
import { UsageController } from './usage/usage.controller';
import { RunsController } from './runs/runs.controller';
import { McpServersController } from './mcp/mcp-servers.controller';
import { McpEndpointController } from './mcp/mcp-endpoint.controller';
import { AgentMcpServer } from './mcp/agent-mcp-server';
import { ApprovalsController } from './approvals/approvals.controller';
import { SseStreams } from './chat/sse-stream';
import { ChatGateway } from './realtime/chat.gateway';
import { GracefulShutdown } from './lifecycle/graceful-shutdown';
import { MetricsController } from './metrics/metrics.controller';
import { ErrorEnvelopeFilter } from './http/error-envelope.filter';
import { ApiKeyThrottlerGuard, throttlerOptions } from './http/rate-limit.guard';
import { createValidationPipe } from './http/validation';

@Module({})
export class AppModule {
  static forRoot(options: CoreModuleOptions = {}): DynamicModule {
    // Single-machine installs run the queue consumers in this process too (RUN_WORKERS_IN_API).
    const { runWorkersInApi, metricsPort } = loadConfig(options.env ?? processEnv());
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(options),
        TerminusModule.forRoot({ logger: false }),
        AuthModule,
        ThrottlerModule.forRootAsync({
          imports: [AuthModule],
          inject: [AppConfig, RedisThrottlerStorage],
          useFactory: throttlerOptions,
        }),
        AgentsModule,
        ConversationsModule,
        LlmModule,
        ToolsModule,
        McpModule,
        ChatModule,
        RealtimeModule,
        RunsModule,
        TasksModule,
        UsageModule,
        ...(runWorkersInApi ? [TaskProcessorsModule] : []),
      ],
      controllers: [
        ChatController,
        ConversationsController,
        AgentsController,
        CatalogController,
        HealthController,
        AsyncApiController,
        ApiKeysController,
        TasksController,
        UsageController,
        RunsController,
        McpServersController,
        McpEndpointController,
        ApprovalsController,
        // With METRICS_PORT, /metrics has a listener of its own (MetricsServer) and is not served here.
        ...(metricsPort === undefined ? [MetricsController] : []),
      ],
      providers: [
        SseStreams,
        ChatGateway,
        AgentMcpServer,
        GracefulShutdown,
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: ErrorEnvelopeFilter },
        // In this order: the key is known before its rate limit is counted.
        { provide: APP_GUARD, useExisting: ApiKeyGuard },
        { provide: APP_GUARD, useClass: ApiKeyThrottlerGuard },
      ],
    };
  }
}
