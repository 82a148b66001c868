// The API process: HTTP controllers over the libs, with the global pipe, filter and tenant guard.
import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { CoreModule, CoreModuleOptions } from '@lib/core';
import { AgentsModule } from '@lib/agents';
import { ChatModule } from '@lib/chat';
import { ConversationsModule } from '@lib/conversations';
import { LlmModule } from '@lib/llm';
import { ToolsModule } from '@lib/tools';
import { CatalogController } from './catalog/catalog.controller';
import { ChatController } from './chat/chat.controller';
import { ConversationsController } from './conversations/conversations.controller';
import { HealthController } from './health/health.controller';
import { ErrorEnvelopeFilter } from './http/error-envelope.filter';
import { TenantGuard } from './http/tenant';
import { createValidationPipe } from './http/validation';

@Module({})
export class AppModule {
  static forRoot(options: CoreModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(options),
        TerminusModule.forRoot({ logger: false }),
        AgentsModule,
        ConversationsModule,
        LlmModule,
        ToolsModule,
        ChatModule,
      ],
      controllers: [ChatController, ConversationsController, CatalogController, HealthController],
      providers: [
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: ErrorEnvelopeFilter },
        { provide: APP_GUARD, useClass: TenantGuard },
      ],
    };
  }
}
