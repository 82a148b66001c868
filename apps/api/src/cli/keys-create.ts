// `npm run keys:create -- --tenant acme --role user --name billing-service`: issues a key for operators and prints it once.
import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ApiKeyService, AuthModule, ROLES, type IssuedApiKey, type Role } from '@lib/auth';
import { CoreModule, ensureDatabaseExists, loadConfig, ValidationError } from '@lib/core';

export const USAGE =
  'Usage: npm run keys:create -- --tenant <tenant> --name <who uses it> [--role user|admin]\n' +
  '  --tenant  the tenant the key belongs to (letters, digits, . _ : -), e.g. acme\n' +
  '  --name    who or what uses the key, e.g. billing-service\n' +
  '  --role    user (default) or admin (admin keys may also manage keys)\n';

const TENANT = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
const FLAGS = ['tenant', 'name', 'role'] as const;
type Flag = (typeof FLAGS)[number];

export class UsageError extends Error {}

export interface KeysCreateArgs {
  tenant: string;
  role: Role;
  name: string;
}

/** Reads `--flag value` and `--flag=value`; refuses anything else with a sentence saying what to fix. */
export function parseKeysCreateArgs(argv: readonly string[]): KeysCreateArgs {
  const values: Partial<Record<Flag, string>> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!match)
      throw new UsageError(`Unexpected argument "${arg}": every value follows its flag, e.g. --tenant acme.`);
    const flag = match[1] as Flag;
    if (!FLAGS.includes(flag))
      throw new UsageError(`Unknown flag --${match[1]}; the flags are --tenant, --name and --role.`);
    if (values[flag] !== undefined) throw new UsageError(`--${flag} is given twice.`);
    let value = match[2];
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${flag} needs a value.`);
      i++;
    }
    values[flag] = value.trim();
  }
  const tenant = values.tenant;
  if (!tenant)
    throw new UsageError('--tenant is required: the tenant the key belongs to, e.g. --tenant acme.');
  if (!TENANT.test(tenant)) {
    throw new UsageError(
      `--tenant must be 1 to 100 letters, digits, '.', '_', ':' or '-' starting with a letter or digit, got "${tenant}".`,
    );
  }
  const name = values.name;
  if (!name)
    throw new UsageError('--name is required: who or what uses the key, e.g. --name billing-service.');
  if (name.length > 100) throw new UsageError('--name must be at most 100 characters.');
  const role = (values.role ?? 'user') as Role;
  if (!ROLES.includes(role))
    throw new UsageError(`--role must be ${ROLES.join(' or ')}, got "${values.role}".`);
  return { tenant, role, name };
}

@Module({})
class KeysCliModule {
  static forRoot(env: Record<string, string | undefined>): DynamicModule {
    return { module: KeysCliModule, imports: [CoreModule.forRoot({ env }), AuthModule] };
  }
}

/** Issues the key through the same service as the admin API (migrating the database first when allowed). */
export async function issueApiKey(
  env: Record<string, string | undefined>,
  args: KeysCreateArgs,
): Promise<IssuedApiKey> {
  const config = loadConfig(env);
  if (config.databaseMigrate) await ensureDatabaseExists(config.databaseUrl);
  const context = await NestFactory.createApplicationContext(KeysCliModule.forRoot(env), {
    logger: false,
    abortOnError: false,
  });
  try {
    return await context.get(ApiKeyService).create(args);
  } finally {
    await context.close();
  }
}

export interface CliOutput {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** The whole command: the key alone on standard output (so `$(…)` captures it), the rest on standard error. */
export async function runKeysCreate(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  io: CliOutput,
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.err(USAGE);
    return 0;
  }
  let args: KeysCreateArgs;
  try {
    args = parseKeysCreateArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`${error.message}\n${USAGE}`);
    return 2;
  }
  try {
    const issued = await issueApiKey(env, args);
    io.err(
      `Created API key ${issued.id} (${issued.prefix}…) for tenant ${issued.tenant}, role ${issued.role}, ` +
        `name "${issued.name}". It is shown this once; store it now:\n`,
    );
    io.out(`${issued.key}\n`);
    return 0;
  } catch (error) {
    const reason = error instanceof ValidationError ? error.message : (error as Error).message;
    io.err(`The key could not be created: ${reason}\n`);
    return 1;
  }
}
