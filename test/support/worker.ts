// Runs the built worker (apps/worker) as a child process, the way `npm run start:worker` does, so e2e tests
// can kill it, restart it and watch a task move between processes. The build is redone whenever the sources differ
// from those it was made from, into a directory of its own (a concurrent `npm run build` cannot remove it).
import { ChildProcess, execFileSync, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
// One build per checkout: worktrees that share node_modules (a symlink) must not run each other's worker.
const BUILD_DIR = join(
  ROOT,
  'node_modules',
  '.cache',
  `agent-backend-e2e-worker-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}`,
);
const ENTRY = join(BUILD_DIR, 'apps', 'worker', 'src', 'main.js');
const STAMP = join(BUILD_DIR, '.built');

function listSources(dir: string, into: string[]): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) listSources(path, into);
    else if (entry.name.endsWith('.ts')) {
      const stat = statSync(path);
      into.push(`${relative(ROOT, path)} ${stat.size} ${stat.mtimeMs}`);
    }
  }
  return into;
}

/**
 * Names the sources as they are now: every .ts file of apps/ and libs/ with its size and modification time. Taken
 * before a build starts and stored with it, so a file changed while the build ran (a merge, a checkout) makes the
 * next caller build again instead of running code older than the database's migrations.
 */
function sourcesFingerprint(): string {
  const files = [...listSources(join(ROOT, 'apps'), []), ...listSources(join(ROOT, 'libs'), [])].sort();
  return createHash('sha256').update(files.join('\n')).digest('hex');
}

/** Compiles apps/ and libs/ with the project's swc settings unless the last build was made from these sources. */
export function buildWorker(): string {
  const sources = sourcesFingerprint();
  if (existsSync(STAMP) && existsSync(ENTRY) && readFileSync(STAMP, 'utf8') === sources) return ENTRY;
  const building = `${BUILD_DIR}.tmp-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/@swc/cli/bin/swc.js'), 'apps', 'libs', '-d', building, '--quiet'],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  writeFileSync(join(building, '.built'), sources);
  rmSync(BUILD_DIR, { recursive: true, force: true });
  renameSync(building, BUILD_DIR);
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
