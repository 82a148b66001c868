// npm run start:docker: starts the compose file's postgres and redis services, waits until both answer, then builds
// and starts the server, so a machine with Docker needs nothing else. Refuses in one sentence when Docker is missing.
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');

const root = path.join(__dirname, '..');
const WAIT_MS = 90_000;
// The compose file's PostgreSQL has a password (POSTGRES_PASSWORD); the server's default URL has none.
const COMPOSE_DATABASE_URL = 'postgres://postgres:postgres@127.0.0.1:5432/agent_backend';
const WITHOUT_DOCKER =
  'or start PostgreSQL and Redis yourself and run npm start (see the README, "Quick start")';

function refuse(sentence) {
  process.stderr.write(`${sentence}\n`);
  process.exit(1);
}

function docker(args, options = {}) {
  return spawnSync('docker', args, { cwd: root, encoding: 'utf8', ...options });
}

function checkDocker() {
  const version = docker(['--version']);
  if (version.error?.code === 'ENOENT') {
    refuse(
      `Docker is not installed here (no docker command on the PATH): install Docker (https://docs.docker.com/get-docker/), ${WITHOUT_DOCKER}.`,
    );
  }
  if (version.error || version.status !== 0) {
    refuse(
      `The docker command does not run (${version.error?.message ?? version.stderr.trim()}): ${WITHOUT_DOCKER}.`,
    );
  }
  if (docker(['compose', 'version']).status !== 0) {
    refuse(
      `Docker Compose v2 is missing ("docker compose version" failed): install the Compose plugin, ${WITHOUT_DOCKER}.`,
    );
  }
  if (docker(['info', '--format', '{{.ServerVersion}}']).status !== 0) {
    refuse(
      'The Docker engine does not answer ("docker info" failed): start Docker Desktop or the docker service ' +
        `(e.g. "sudo systemctl start docker") and run npm run start:docker again, ${WITHOUT_DOCKER}.`,
    );
  }
}

async function waitForServices(core, config) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      await core.checkBackingServices(config, 2_000);
      return;
    } catch (error) {
      // A refused login will not change by waiting; a service still starting will.
      if (
        !(error instanceof core.BackingServiceError) ||
        error.kind !== 'no_answer' ||
        Date.now() > deadline
      ) {
        throw error;
      }
      await sleep(1_000);
    }
  }
}

async function main() {
  checkDocker();
  process.stderr.write('Starting PostgreSQL and Redis with docker compose…\n');
  const up = docker(['compose', 'up', '-d', '--wait', 'postgres', 'redis'], { stdio: 'inherit' });
  if (up.status !== 0) refuse('"docker compose up -d --wait postgres redis" failed (see above).');

  if (existsSync(path.join(root, '.env'))) process.loadEnvFile(path.join(root, '.env'));
  process.env.DATABASE_URL ??= COMPOSE_DATABASE_URL;
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  const core = require(path.join(root, 'dist/libs/core/src'));
  await waitForServices(core, core.loadConfig(process.env));

  const server = spawn(process.execPath, [path.join(root, 'dist/apps/api/src/main.js')], {
    cwd: root,
    stdio: 'inherit',
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal));
  server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

main().catch((error) => refuse(error.message));
