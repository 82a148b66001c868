// Builds the console (apps/console) for the browser tests with the project's Vite config, into a directory of its
// own (a concurrent `npm run build` cannot remove it), and only when a source file is newer than the last build.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const SOURCES = join(ROOT, 'apps', 'console');
const BUILD_DIR = join(ROOT, 'node_modules', '.cache', 'agent-backend-e2e-console');
const STAMP = join(BUILD_DIR, '.built');

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** The directory holding the built console's index.html and assets. */
export function buildConsole(): string {
  const sources = Math.max(newestMtime(SOURCES), statSync(join(ROOT, 'package-lock.json')).mtimeMs);
  if (existsSync(STAMP) && statSync(STAMP).mtimeMs >= sources && existsSync(join(BUILD_DIR, 'index.html'))) {
    return BUILD_DIR;
  }
  const building = `${BUILD_DIR}.tmp-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/vite/bin/vite.js'),
      'build',
      '--config',
      join(SOURCES, 'vite.config.mts'),
      '--outDir',
      building,
      '--emptyOutDir',
      '--logLevel',
      'warn',
    ],
    // Jest runs with NODE_ENV=test, which would make Vite bundle React's development build.
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_ENV: 'production' } },
  );
  rmSync(BUILD_DIR, { recursive: true, force: true });
  renameSync(building, BUILD_DIR);
  writeFileSync(STAMP, new Date().toISOString());
  return BUILD_DIR;
}
