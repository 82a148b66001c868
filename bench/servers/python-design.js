// The Python design the project came from (bench/peers/seed-fastapi: FastAPI + uvicorn with uvloop and httptools,
// asyncpg, httpx), started as its README says, one worker. This wrapper only starts it, reports its port and the
// Python process's pid (the one measured) and stops it with the bench.
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');
const { ready, exitWithParent } = require('../lib/child');
const proc = require('../lib/proc');

const PEER_DIR = path.join(__dirname, '..', 'peers', 'seed-fastapi');

async function main() {
  const port = await proc.freePort();
  const python = spawn(
    process.env.BENCH_PYTHON || '/usr/bin/python3',
    [
      '-m',
      'uvicorn',
      'app:app',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--workers',
      '1',
      '--loop',
      'uvloop',
      '--http',
      'httptools',
      '--log-level',
      'warning',
    ],
    {
      cwd: PEER_DIR,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        ...process.env,
        ANTHROPIC_BASE_URL: process.env.PROVIDER_URL,
        ANTHROPIC_API_KEY: 'sk-ant-bench-not-a-real-key',
        MODEL: 'claude-sonnet-4-6',
        DATABASE_URL: process.env.PEER_DATABASE_URL,
      },
    },
  );
  const stop = () => python.exitCode === null && python.kill('SIGTERM');
  process.on('exit', stop);
  process.on('SIGTERM', () => {
    stop();
    process.exit(0);
  });
  python.once('exit', (code, signal) => {
    process.stderr.write(`the Python design exited (${code ?? signal})\n`);
    process.exit(1);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (true) {
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the Python design did not answer ${url}/health within 60 s`);
    await proc.sleep(200);
  }
  exitWithParent();
  ready({ port, pid: python.pid });
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
