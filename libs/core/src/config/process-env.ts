import { existsSync } from 'node:fs';
import { AppConfig } from './app-config';
import { ConfigError, loadConfig } from './load-config';

/** The one place the process environment is read; everything else receives the validated AppConfig. */
export function processEnv(): Record<string, string | undefined> {
  return process.env;
}

/**
 * The configuration of a starting process: `.env` read when present, then validated. A missing or malformed
 * value ends the process with one sentence naming the variable, not a stack trace.
 */
export function loadProcessConfigOrExit(): AppConfig {
  if (existsSync('.env')) process.loadEnvFile('.env');
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
