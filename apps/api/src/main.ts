// Starts the API: tracing first (when OTEL_* asks for it), configuration checked and PostgreSQL and Redis reached
// (one sentence on failure), database created and migrated for local use; SIGTERM drains running turns before the connections close.
import { tracing } from './tracing';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import {
  checkBackingServices,
  ensureDatabaseExists,
  loadProcessConfigOrExit,
  onShutdownSignal,
} from '@lib/core';
import { createApp } from './bootstrap';
import { GracefulShutdown } from './lifecycle/graceful-shutdown';

/** What the connections, queues and trace export may take after the drain, before the process gives up. */
const CLOSE_ALLOWANCE_MS = 15_000;

async function main(): Promise<void> {
  const config = loadProcessConfigOrExit();
  await checkBackingServices(config);
  if (config.databaseMigrate) await ensureDatabaseExists(config.databaseUrl);
  const app = await createApp();
  const logger = new Logger('Bootstrap');
  onShutdownSignal(
    async (signal) => {
      logger.log(`${signal} received: shutting down gracefully (grace period ${config.shutdownGraceMs} ms).`);
      await app.get(GracefulShutdown).drain();
      await app.close();
      await tracing.shutdown();
    },
    config.shutdownGraceMs + CLOSE_ALLOWANCE_MS,
    (message) => logger.warn(message),
  );
  await app.listen(config.port, config.host);
  logger.log(
    `Agent backend listening on ${await app.getUrl()} (docs at /docs)` +
      (tracing.enabled ? '; tracing to the configured OTLP exporter' : ''),
  );
}

main().catch((error: Error) => {
  process.stderr.write(`The server could not start: ${error.message}\n`);
  process.exit(1);
});
