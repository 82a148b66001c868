// Runs the production entry point (apps/api/src/main.ts, compiled by swc) as a child process, for tests that need
// what only a real process shows: its log lines on standard output, and its start-up as a newcomer sees it.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

export interface BuiltServer {
  entry: string;
  remove(): void;
}

/** Compiles apps/ and libs/ as `npm run build` does, into a private folder (node_modules resolves from it). */
export function buildServer(): BuiltServer {
  const out = join(ROOT, 'node_modules', '.cache', 'e2e-build', randomUUID());
  mkdirSync(out, { recursive: true });
  execFileSync(join(ROOT, 'node_modules', '.bin', 'swc'), ['apps', 'libs', '-d', out, '--quiet'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  return {
    entry: join(out, 'apps', 'api', 'src', 'main.js'),
    remove: () => rmSync(out, { recursive: true, force: true }),
  };
}

export interface ServerProcess {
  url: string;
  /** Every line written to standard output and standard error so far. */
  lines: string[];
  /** SIGTERM, then the exit code once the process is gone. */
  stop(): Promise<number | null>;
  /** Sends a signal without waiting (a graceful shutdown under way can then be watched). */
  signal(name: NodeJS.Signals): void;
  /** The exit code, once the process has exited. */
  readonly exited: Promise<number | null>;
}

/** Starts the server with exactly `env` (plus PATH), in `cwd`; resolves once it listens. */
export async function startServerProcess(
  server: BuiltServer,
  env: Record<string, string | undefined>,
  cwd: string,
): Promise<ServerProcess> {
  const child: ChildProcess = spawn(process.execPath, [server.entry], {
    cwd,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`The server did not start:\n${lines.join('\n')}`)),
      20_000,
    );
    const read = (chunk: Buffer) => {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        lines.push(line);
        const match = /listening on (http:\/\/[^\s"]+)/.exec(line);
        if (match) {
          clearTimeout(timer);
          resolve(match[1].replace('[::1]', '127.0.0.1'));
        }
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`The server exited with ${code}:\n${lines.join('\n')}`));
    });
  });
  return {
    url,
    lines,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const [code] = await exited;
      return code;
    },
    signal: (name) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(name);
    },
    exited: exited.then(([code]) => code),
  };
}

/** Starts the server with exactly `env` (plus PATH) for a start-up that is expected to fail: its exit code and output. */
export async function runServerProcessToExit(
  server: BuiltServer,
  env: Record<string, string | undefined>,
  cwd: string,
  timeoutMs = 20_000,
): Promise<{ code: number | null; lines: string[] }> {
  const child = spawn(process.execPath, [server.entry], {
    cwd,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const read = (chunk: Buffer) => lines.push(...String(chunk).split('\n').filter(Boolean));
  child.stdout.on('data', read);
  child.stderr.on('data', read);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, lines };
}
