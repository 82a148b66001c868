// The worker process: no HTTP, just the configured core (database, Redis, logging) and the queue consumers.
import { DynamicModule, Module } from '@nestjs/common';
import { CoreModule, CoreModuleOptions } from '@lib/core';
import { McpModule } from '@lib/mcp';
import { TaskProcessorsModule } from '@lib/tasks';

@Module({})
export class WorkerModule {
  static forRoot(options: CoreModuleOptions = {}): DynamicModule {
    return { module: WorkerModule, imports: [CoreModule.forRoot(options), TaskProcessorsModule, McpModule] };
  }
}
