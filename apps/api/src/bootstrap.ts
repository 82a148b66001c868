// Builds the configured API application; main.ts and the end-to-end tests both start it from here.
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Logger } from 'nestjs-pino';
import { AppConfig, CoreModuleOptions, loadConfig, processEnv } from '@lib/core';
import { AppModule } from './app.module';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Keeps a caller's well-formed X-Request-ID, else makes a new one; pino-http reads it from the raw request. */
function requestId(raw: IncomingMessage): string {
  const header = raw.headers['x-request-id'];
  const id = typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
  (raw as IncomingMessage & { id?: string }).id = id;
  return id;
}

export function openApiDocument(app: NestFastifyApplication) {
  const config = new DocumentBuilder()
    .setTitle('Agent backend')
    .setDescription(
      'Tool-using Claude agents over REST, with conversation history in PostgreSQL. ' +
        'Every error answers `{"error": {"type", "message", "details"?, "request_id"}}`.',
    )
    .setVersion('1')
    .build();
  return SwaggerModule.createDocument(app, config);
}

export async function createApp(options: CoreModuleOptions = {}): Promise<NestFastifyApplication> {
  // Validated here too, so the adapter gets its limits before Nest resolves the same config.
  const config: AppConfig = loadConfig(options.env ?? processEnv());
  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    genReqId: requestId,
    trustProxy: true,
    return503OnClosing: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(options), adapter, {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onSend', async (request, reply) => {
    reply.header('X-Request-ID', request.id);
    reply.header('X-Response-Time', `${reply.elapsedTime.toFixed(2)}ms`);
  });
  app.enableShutdownHooks();
  SwaggerModule.setup('docs', app, () => openApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
  });
  return app;
}
