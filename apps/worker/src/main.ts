// Starts a worker: tracing first (when OTEL_* asks for it), configuration checked and PostgreSQL and Redis reached
// (one sentence on failure), then the Bull consumers run until SIGTERM/SIGINT: no new job is taken, running jobs
// get SHUTDOWN_GRACE_MS to finish, those still running are handed back to the queue, and the connections close.
// A killed worker's jobs are re-queued once their lock expires.
import { tracing } from './tracing';
import 'reflect-metadata';
import { Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { checkBackingServices, loadProcessConfigOrExit, onShutdownSignal } from '@lib/core';
import { QueueConsumers } from '@lib/tasks';
import { WorkerModule } from './worker.module';

/** What the connections and trace export may take after the grace period, before the process gives up. */
const CLOSE_ALLOWANCE_MS = 15_000;

async function main(): Promise<void> {
  const config = loadProcessConfigOrExit();
  await checkBackingServices(config);
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(), {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  const logger = new NestLogger('Worker');
  onShutdownSignal(
    async (signal) => {
      const consumers = app.get(QueueConsumers);
      logger.log(
        `${signal} received: taking no new jobs; waiting up to ${config.shutdownGraceMs} ms for ${consumers.runningCount} running job(s).`,
      );
      if (!(await consumers.drain(config.shutdownGraceMs))) await consumers.handBack();
      await app.close();
      await tracing.shutdown();
    },
    config.shutdownGraceMs + CLOSE_ALLOWANCE_MS,
    (message) => logger.warn(message),
  );
  await app.init();
  logger.log(
    `Worker running agent tasks (concurrency ${config.taskConcurrency}) and webhooks on queue prefix "${config.queuePrefix}"`,
  );
  // Lets a parent process (the e2e tests) know the consumers are registered.
  process.send?.({ type: 'ready' });
}

main().catch((error: Error) => {
  process.stderr.write(`The worker could not start: ${error.message}\n`);
  process.exit(1);
});
