// The README as a newcomer reads it: its links lead to files the repository ships, and its REST table names every
// route the running app documents.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestApp, TestApp } from './support/app';
import { apiOperations, label } from './support/routes';

const ROOT = join(__dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('the README', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('links only to files the repository ships, among them the wire contract', () => {
    const targets = [...README.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
      .map((m) => m[1])
      .filter((target) => !/^[a-z]+:/.test(target));
    expect(targets).toContain('docs/CONTRACT.md');
    for (const target of targets)
      expect({ target, exists: existsSync(join(ROOT, target)) }).toEqual({ target, exists: true });
    expect(readFileSync(join(ROOT, 'docs/CONTRACT.md'), 'utf8')).toMatch(
      /^# Agent backend — the external contract/,
    );
  });

  it('lists every documented route in its REST table', async () => {
    const section = README.slice(README.indexOf('## REST API'), README.indexOf('## API keys and tenants'));
    const listed = new Set(
      [...section.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^`?\s]*)/g)].map((m) => `${m[1]} ${m[2]}`),
    );
    const missing = (await apiOperations(t)).map(label).filter((route) => !listed.has(route));
    expect(missing).toEqual([]);
  });
});
