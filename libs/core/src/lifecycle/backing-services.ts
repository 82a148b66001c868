// Before a process builds its modules, PostgreSQL and Redis must answer at the configured addresses: otherwise it
// stops with one sentence saying what to start, instead of connection retries and stack traces.
import Redis from 'ioredis';
import { Client } from 'pg';

export const BACKING_SERVICE_TIMEOUT_MS = 5_000;

/** PostgreSQL or Redis cannot be used at the configured address; the message is one sentence for a person. */
export class BackingServiceError extends Error {
  override readonly name = 'BackingServiceError';

  /** `no_answer`: nothing answered (worth waiting for); `refused`: the server answered and refused the login. */
  constructor(
    message: string,
    readonly kind: 'no_answer' | 'refused',
  ) {
    super(message);
  }
}

interface Service {
  name: 'PostgreSQL' | 'Redis';
  variable: 'DATABASE_URL' | 'REDIS_URL';
  url: string;
  defaultPort: number;
  /** How a local installation is usually started on Linux. */
  localService: string;
}

/** Throws BackingServiceError when PostgreSQL or Redis does not answer, or refuses the configured login. */
export async function checkBackingServices(
  settings: { databaseUrl: string; redisUrl: string },
  timeoutMs = BACKING_SERVICE_TIMEOUT_MS,
): Promise<void> {
  await check(
    {
      name: 'PostgreSQL',
      variable: 'DATABASE_URL',
      url: settings.databaseUrl,
      defaultPort: 5432,
      localService: 'sudo systemctl start postgresql',
    },
    () => pingPostgres(settings.databaseUrl, timeoutMs),
  );
  await check(
    {
      name: 'Redis',
      variable: 'REDIS_URL',
      url: settings.redisUrl,
      defaultPort: 6379,
      localService: 'sudo systemctl start redis-server',
    },
    () => pingRedis(settings.redisUrl, timeoutMs),
  );
}

async function check(service: Service, ping: () => Promise<void>): Promise<void> {
  try {
    await ping();
  } catch (error) {
    const kind = refusedLogin(service, error) ? 'refused' : 'no_answer';
    throw new BackingServiceError(describeFailure(service, error, kind), kind);
  }
}

function describeFailure(service: Service, error: unknown, kind: BackingServiceError['kind']): string {
  const target = new URL(service.url);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const address = `${host}:${target.port || service.defaultPort}`;
  const message = error instanceof Error ? error.message.replace(/\s+/g, ' ').replace(/[.\s]+$/, '') : '';
  if (kind === 'refused') {
    return `${service.name} at ${address} refused the connection (${message}): check the user, password and database in ${service.variable}.`;
  }
  if (!isLoopback(host)) {
    return `${service.name} does not answer at ${address} (${service.variable}): check the address, and that the server runs and is reachable from this machine.`;
  }
  return (
    `${service.name} does not answer at ${address} (${service.variable}): start it — with Docker, ` +
    '"npm run start:docker" starts PostgreSQL and Redis and then the server; without, start the local service ' +
    `(e.g. "${service.localService}"), then try again.`
  );
}

/** An answer from the server itself (a SQLSTATE, a Redis error reply), as opposed to no answer at all. */
function refusedLogin(service: Service, error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (service.name === 'PostgreSQL') {
    const code = (error as { code?: unknown }).code;
    return (
      (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) || /password|SASL|SCRAM/i.test(error.message)
    );
  }
  return /^(?:WRONGPASS|NOAUTH|NOPERM|ERR)\b/.test(error.message);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

async function pingPostgres(url: string, timeoutMs: number): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  // An error after connect (the server going away) must not become an unhandled 'error' event.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    // A missing database is an answer: the server runs, and start-up creates the database (DATABASE_MIGRATE).
    if ((error as { code?: unknown }).code === '3D000') return;
    throw error;
  }
  try {
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function pingRedis(url: string, timeoutMs: number): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // connect() rejects with a bare "Connection is closed"; the reason (a refused AUTH, ECONNREFUSED) is an event.
  let reason: Error | undefined;
  client.on('error', (error: Error) => (reason = error));
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw reason ?? error;
  } finally {
    client.disconnect();
  }
}
