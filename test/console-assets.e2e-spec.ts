// How the API serves the built console: `/` sends a newcomer to /console/, hashed assets are cached for good,
// index.html is revalidated, the security policy lets the page load its own scripts and open its socket.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, TestApp } from './support/app';
import { buildConsole } from './support/console-build';

jest.setTimeout(60_000);

describe('the console served by the API', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ CONSOLE_DIR: buildConsole() });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('redirects / and /console to /console/', async () => {
    const root = await fetch(`${t.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/console/');
    await root.arrayBuffer();
    const bare = await fetch(`${t.url}/console`, { redirect: 'manual' });
    expect([301, 302]).toContain(bare.status);
    expect(bare.headers.get('location')).toBe('/console/');
    await bare.arrayBuffer();
  });

  it('answers index.html with no-cache, and its hashed assets as immutable for a year', async () => {
    const page = await fetch(`${t.url}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) {
      const res = await fetch(`${t.url}${asset}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      // Read to the end: an unread body keeps its connection busy, and the app's close waits for it.
      await res.arrayBuffer();
    }
  });

  it('loads only its own scripts (none inline) and may connect to its own origin only', async () => {
    const page = await fetch(`${t.url}/console/`);
    const policy = page.headers.get('content-security-policy') ?? '';
    const html = await page.text();
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    for (const [, body] of html.matchAll(/<script[^>]*>([\s\S]*?)<\/script>/g)) expect(body.trim()).toBe('');
  });

  it('answers a missing console file with the 404 envelope', async () => {
    const res = await t.request('GET', '/console/assets/missing-00000000.js', { key: null });
    expect(res.status).toBe(404);
    expect(res.body.error.type).toBe('not_found');
  });
});

describe('a server without a console build', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ CONSOLE_DIR: mkdtempSync(join(tmpdir(), 'no-console-')) });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('says how to build it instead of serving nothing', async () => {
    const res = await t.request('GET', '/console/', { key: null });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({
      type: 'not_found',
      message: expect.stringContaining('npm run build'),
    });
    expect(res.body.error.request_id).toBeTruthy();
  });
});
