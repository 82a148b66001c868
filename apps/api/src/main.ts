// Starts the API: configuration checked first (one sentence on failure), database created and migrated for local use.
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import { AppConfig, ConfigError, ensureDatabaseExists, loadConfig } from '@lib/core';
import { createApp } from './bootstrap';

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
  if (config.databaseMigrate) await ensureDatabaseExists(config.databaseUrl);
  const app = await createApp();
  await app.listen(config.port, config.host);
  const logger = new Logger('Bootstrap');
  logger.log(`Agent backend listening on ${await app.getUrl()} (docs at /docs)`);
}

main().catch((error: Error) => {
  process.stderr.write(`The server could not start: ${error.message}\n`);
  process.exit(1);
});
