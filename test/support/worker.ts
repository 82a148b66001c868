// Runs the built worker (apps/worker) as a child process, the way `npm run start:worker` does, so e2e tests
// can kill it, restart it and watch a task move between processes. The build is redone only when a source
// file is newer than it, into a directory of its own (a concurrent `npm run build` cannot remove it).
import { ChildProcess, execFileSync, fork } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const BUILD_DIR = join(ROOT, 'node_modules', '.cache', 'agent-backend-e2e-worker');
const ENTRY = join(BUILD_DIR, 'apps', 'worker', 'src', 'main.js');
const STAMP = join(BUILD_DIR, '.built');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Compiles apps/ and libs/ with the project's swc settings when the sources changed since the last build. */
export function buildWorker(): string {
  const sources = Math.max(newestMtime(join(ROOT, 'apps')), newestMtime(join(ROOT, 'libs')));
  if (existsSync(STAMP) && statSync(STAMP).mtimeMs >= sources && existsSync(ENTRY)) return ENTRY;
  const building = `${BUILD_DIR}.tmp-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/@swc/cli/bin/swc.js'), 'apps', 'libs', '-d', building, '--quiet'],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  rmSync(BUILD_DIR, { recursive: true, force: true });
  renameSync(building, BUILD_DIR);
  writeFileSync(STAMP, new Date().toISOString());
  return ENTRY;
}

export interface WorkerProcess {
  readonly pid: number;
  /** What the worker wrote to stdout and stderr so far (for failure messages). */
  output(): string;
  /** SIGTERM, then waits for the graceful shutdown (queues closed). */
  stop(): Promise<void>;
  /** SIGKILL: the process dies mid-task, leaving its job locked until the lock expires. */
  kill(): Promise<void>;
}

/** Starts a worker with the given environment (on top of a bare PATH/HOME) and waits until it consumes jobs. */
export async function startWorker(env: Record<string, string | undefined>): Promise<WorkerProcess> {
  const entry = buildWorker();
  const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  for (const [name, value] of Object.entries(env)) if (value !== undefined) childEnv[name] = value;
  const child: ChildProcess = fork(entry, [], {
    // Away from the repository, so a developer's .env is not read.
    cwd: BUILD_DIR,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  // TEST_WORKER_LOG=<file> keeps the workers' log lines (with TEST_LOG_LEVEL=debug, say) for a failing test.
  const keep = (chunk: Buffer): void => {
    output += chunk.toString();
    if (process.env.TEST_WORKER_LOG) appendFileSync(process.env.TEST_WORKER_LOG, chunk);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`The worker did not start in time:\n${output}`)), 30_000);
    child.on('message', (message: { type?: string }) => {
      if (message?.type !== 'ready') return;
      clearTimeout(timer);
      resolveReady();
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`The worker exited before it was ready:\n${output}`));
    });
  });
  const signal = async (name: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    await exited;
  };
  return {
    pid: child.pid!,
    output: () => output,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
  };
}
