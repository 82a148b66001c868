/** The one place the process environment is read; everything else receives the validated AppConfig. */
export function processEnv(): Record<string, string | undefined> {
  return process.env;
}
