// `npm run start:docker` on a machine without Docker: it refuses in one sentence and starts nothing.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = join(__dirname, '..', 'scripts', 'start-docker.js');

async function run(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [SCRIPT], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += String(chunk)));
  child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

describe('npm run start:docker', () => {
  let emptyBin: string;

  beforeAll(() => {
    emptyBin = mkdtempSync(join(tmpdir(), 'no-docker-'));
  });

  afterAll(() => {
    rmSync(emptyBin, { recursive: true, force: true });
  });

  it('refuses in one sentence, saying what to do instead, when there is no docker command', async () => {
    const { code, stdout, stderr } = await run({ PATH: emptyBin });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      'Docker is not installed here (no docker command on the PATH): install Docker ' +
        '(https://docs.docker.com/get-docker/), or start PostgreSQL and Redis yourself and run npm start ' +
        '(see the README, "Quick start").\n',
    );
  });
});
