// Starts a worker: configuration checked first (one sentence on failure), then the Bull consumers run until
// SIGTERM/SIGINT, when the queues close (running jobs finish first; a killed worker's jobs are re-queued).
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { AppConfig, ConfigError, loadConfig } from '@lib/core';
import { WorkerModule } from './worker.module';

async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config: AppConfig;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(), {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  await app.init();
  new NestLogger('Worker').log(
    `Worker running agent tasks (concurrency ${config.taskConcurrency}) and webhooks on queue prefix "${config.queuePrefix}"`,
  );
  // Lets a parent process (the e2e tests) know the consumers are registered.
  process.send?.({ type: 'ready' });
}

main().catch((error: Error) => {
  process.stderr.write(`The worker could not start: ${error.message}\n`);
  process.exit(1);
});
