// Builds the configured API application; main.ts and the end-to-end tests both start it from here.
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Logger } from 'nestjs-pino';
import { AdminKeyBootstrap } from '@lib/auth';
import { AppConfig, CoreModuleOptions, loadConfig, processEnv, ShutdownState } from '@lib/core';
import { AppModule } from './app.module';
import { mountQueueBoard } from './admin/queue-board';
import { mountConsole } from './console/console-assets';
import { RedisIoAdapter } from './realtime/redis-io.adapter';
import { observeRequests } from './http/request-observability';
import { inspectBodies } from './http/json-body';
import { answerClientError, answerFrameworkError } from './http/client-errors';
import { registerSecurityHeaders } from './http/security-headers';

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
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'API key',
      description:
        'An API key (`ak_live_…`): from ADMIN_API_KEY, `npm run keys:create` or `POST /v1/admin/api-keys`.',
    })
    .build();
  return declareApiKeyAuth(SwaggerModule.createDocument(app, config));
}

const ERROR_ENVELOPE = { $ref: '#/components/schemas/ErrorEnvelopeDto' };
const AUTH_ERRORS: Record<string, string> = {
  '401': '`unauthorized`: no API key, or a malformed, unknown or revoked one.',
  '429': '`rate_limited`: retry after the `Retry-After` seconds.',
};

/** Every /v1 operation sits behind the API-key guard: the document says so even where a controller forgot to. */
function declareApiKeyAuth(document: OpenAPIObject): OpenAPIObject {
  for (const [path, item] of Object.entries(document.paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const method of ['get', 'put', 'post', 'delete', 'patch'] as const) {
      const operation = item[method];
      if (!operation) continue;
      if (!operation.security?.length) operation.security = [{ bearer: [] }];
      for (const [status, description] of Object.entries(AUTH_ERRORS)) {
        operation.responses[status] ??= {
          description,
          content: { 'application/json': { schema: ERROR_ENVELOPE } },
        };
      }
    }
  }
  return document;
}

/** The routes whose body carries a user message (`message`, a task's `instruction`). */
const MESSAGE_ROUTES = new Set(['/v1/chat', '/v1/chat/stream', '/v1/tasks']);

export async function createApp(options: CoreModuleOptions = {}): Promise<NestFastifyApplication> {
  // Validated here too, so the adapter gets its limits before Nest resolves the same config.
  const config: AppConfig = loadConfig(options.env ?? processEnv());
  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    genReqId: requestId,
    trustProxy: config.trustProxy,
    return503OnClosing: true,
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(options), adapter, {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  // The routes that take a user message may carry images and PDFs: their own, larger body limit (registered before
  // Nest adds its routes, at init).
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (methods.includes('POST') && MESSAGE_ROUTES.has(route.url)) {
        route.bodyLimit = config.messageBodyLimitBytes;
      }
    });
  // Swagger UI and the console load only their own scripts (no inline ones), so the default policy fits them;
  // the console's Socket.IO connection is same-origin ('self' covers ws:/wss: to this host). Plain-HTTP
  // deployments behind a TLS proxy must not have their requests upgraded.
  registerSecurityHeaders(app.getHttpAdapter().getInstance(), {
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null, connectSrc: ["'self'"] } },
  });
  if (config.corsOrigins.length) {
    app.enableCors({
      origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
      credentials: config.corsAllowCredentials,
      methods: ['GET', 'POST', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-ID'],
      exposedHeaders: [
        'X-Request-ID',
        'X-Response-Time',
        'Retry-After',
        'X-RateLimit-Limit',
        'X-RateLimit-Remaining',
        'X-RateLimit-Reset',
      ],
      maxAge: 600,
    });
  }
  const shutdown = app.get(ShutdownState);
  app.useWebSocketAdapter(new RedisIoAdapter(app, config, () => shutdown.draining));
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onSend', async (request, reply) => {
    reply.header('X-Request-ID', request.id);
    reply.header('X-Response-Time', `${reply.elapsedTime.toFixed(2)}ms`);
  });
  observeRequests(app);
  inspectBodies(app);
  // No enableShutdownHooks(): main.ts handles SIGTERM itself, draining turns (GracefulShutdown) before app.close().
  SwaggerModule.setup('docs', app, () => openApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
    swaggerOptions: { persistAuthorization: true },
  });
  await mountQueueBoard(app);
  await mountConsole(app, config.consoleDir);
  // After migrations (they ran while the app was created): ADMIN_API_KEY, or a local key in development.
  await app.get(AdminKeyBootstrap).ensureAdminKey();
  return app;
}
