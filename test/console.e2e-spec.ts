// The console (apps/console) in a real browser: Debian's Chromium driven by playwright-core against the real app
// serving the built console, with the offline demo model answering. Screenshots of each page are taken as it goes
// (into docs/screenshots/ with UPDATE_SCREENSHOTS=1). Any browser console error fails the test it happened in.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { startTestApp, TestApp } from './support/app';
import { Browser, CHROMIUM_PATH, chromiumAvailable, launchBrowser } from './support/browser';
import { buildConsole } from './support/console-build';
import { McpTestServer } from './support/mcp-server';
import { testQueuePrefix } from './support/tasks';

const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS
  ? resolve(__dirname, '../docs/screenshots')
  : resolve(__dirname, '../node_modules/.cache/console-screenshots');
const PHONE = { width: 390, height: 844 };

const haveChromium = chromiumAvailable();
if (!haveChromium) {
  process.stderr.write(
    `\n${'!'.repeat(100)}\n!!! SKIPPED: the console's browser tests (test/console.e2e-spec.ts): no Chromium at ${CHROMIUM_PATH}.\n` +
      `!!! Install Debian's chromium package (apt-get install chromium) to run them.\n${'!'.repeat(100)}\n\n`,
  );
}
const describeInBrowser = haveChromium ? describe : describe.skip;

/** Records the text of the turn being streamed after every DOM change, in each document the tab loads. */
const RECORD_LIVE_TEXT = `
  window.__liveSamples = [];
  new MutationObserver(() => {
    const live = document.querySelector('[data-live-turn="streaming"]');
    if (!live) return;
    const text = [...live.querySelectorAll('.answer-text')].map((p) => p.textContent).join(' ').replace(/\\s+/g, ' ').trim();
    const samples = window.__liveSamples;
    if (text && samples[samples.length - 1] !== text) samples.push(text);
  }).observe(document, { subtree: true, childList: true, characterData: true });
`;

const normalise = (text: string): string => text.replace(/\s+/g, ' ').trim();

/** The text blocks of a stored conversation's assistant messages, in order, as the transcript shows them. */
function storedTexts(messages: { role: string; content: unknown }[]): string[] {
  return messages
    .filter((m) => m.role === 'assistant')
    .flatMap((m) =>
      typeof m.content === 'string'
        ? [m.content]
        : (m.content as { type: string; text?: string }[])
            .filter((b) => b.type === 'text')
            .map((b) => b.text!),
    )
    .map(normalise);
}

/** The whole answer of a stored conversation, its text blocks joined as the live turn joins them. */
const storedAnswer = (messages: { role: string; content: unknown }[]): string =>
  storedTexts(messages).join(' ');

describeInBrowser('the console in a browser', () => {
  let t: TestApp;
  let slow: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    const consoleDir = buildConsole();
    mkdirSync(SCREENSHOTS, { recursive: true });
    [t, slow] = await Promise.all([
      startTestApp({
        CONSOLE_DIR: consoleDir,
        OFFLINE_MODEL_PACE_MS: '30',
        QUEUE_PREFIX: testQueuePrefix('console'),
        // The MCP servers page registers a server the test starts on loopback.
        OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
      }),
      // A slow demo model, for a turn long enough to stop or reload in the middle of.
      startTestApp({
        CONSOLE_DIR: consoleDir,
        OFFLINE_MODEL_PACE_MS: '250',
        QUEUE_PREFIX: testQueuePrefix('console-slow'),
        RUN_WORKERS_IN_API: 'false',
      }),
    ]);
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([t?.close(), slow?.close()]);
  });

  /** Fails on any console error or page error except the expected ones (a refused request the test caused). */
  function expectNoBrowserErrors(expected: RegExp[] = []): void {
    const unexpected = browser.errors.filter((line) => !expected.some((pattern) => pattern.test(line)));
    browser.errors.length = 0;
    expect(unexpected).toEqual([]);
  }

  async function signIn(page: Page, app: TestApp, key = app.userKey): Promise<void> {
    await page.goto(`${app.url}/`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Console pages' }).waitFor();
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  async function liveSamples(page: Page): Promise<string[]> {
    return page.evaluate<string[]>('window.__liveSamples');
  }

  it('signs in with an API key kept in the tab only, and says when a key is wrong', async () => {
    const page = await browser.newPage();
    const root = await page.goto(`${t.url}/`);
    expect(new URL(root!.url()).pathname).toBe('/console/');
    await page.getByLabel('API key').fill('ak_live_not_a_real_key_000000000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const refusal = await t.request('GET', '/v1/agents', { key: 'ak_live_not_a_real_key_000000000000' });
    expect(refusal.status).toBe(401);
    await page.getByRole('alert').filter({ hasText: refusal.body.error.message }).waitFor();
    await screenshot(page, 'sign-in');

    await page.getByLabel('API key').fill(t.userKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Console pages' }).waitFor();
    await page.getByRole('status').filter({ hasText: 'Offline demo model' }).waitFor();
    expect(await page.evaluate("sessionStorage.getItem('console.apiKey')")).toBe(t.userKey);
    expect(await page.evaluate('document.cookie')).toBe('');
    expect(page.url()).not.toContain(t.userKey);
    await page.close();
    expectNoBrowserErrors([/status of 401/]);
  }, 30_000);

  it('streams an answer token by token with its tool call as a card, and shows the turn’s tokens and cost', async () => {
    const page = await browser.newPage();
    await page.addInitScript(RECORD_LIVE_TEXT);
    await signIn(page, t);
    await page.getByLabel('Message').fill('Where is order 1001?');
    await page.getByRole('button', { name: 'Send' }).click();

    const card = page.locator('.tool-card[data-tool="lookup_order"]').first();
    await card.waitFor();
    const stats = page.locator('[data-turn-stats]');
    await stats.waitFor({ timeout: 15_000 });
    expect(await stats.count()).toBe(1);
    expect(await stats.textContent()).toMatch(/input \+ \d+ output tokens · \$0\.00 · .* end_turn/);

    // Streamed: the answer grew in several steps, each the start of the final text.
    const samples = await liveSamples(page);
    expect(samples.length).toBeGreaterThan(2);
    const final = samples[samples.length - 1];
    for (const sample of samples) expect(final.startsWith(sample)).toBe(true);

    // The stored transcript replaced the live turn: the answer once, the card with arguments and result.
    const conversations = await t.request('GET', '/v1/conversations');
    const stored = await t.request('GET', `/v1/conversations/${conversations.body.conversations[0].id}`);
    const answer = storedAnswer(stored.body.messages);
    for (const sample of samples) expect(answer.startsWith(sample)).toBe(true);
    const texts = storedTexts(stored.body.messages);
    expect(texts).toEqual([
      expect.stringContaining('look up order 1001'),
      expect.stringContaining('Order 1001 is shipped'),
    ]);
    const transcript = normalise((await page.locator('.transcript').textContent()) ?? '');
    for (const text of texts) expect(transcript.split(text).length).toBe(2);
    await card.locator('summary').click();
    await expect(card.getByLabel('Arguments of lookup_order').textContent()).resolves.toContain(
      '"order_number": "1001"',
    );
    await expect(card.getByLabel('Result of lookup_order').textContent()).resolves.toContain('1001');
    expect(await page.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true); // the message box is empty again
    await screenshot(page, 'chat');

    await page.setViewportSize(PHONE);
    await screenshot(page, 'chat-phone');
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await page.close();
    expectNoBrowserErrors();
  }, 30_000);

  it('stops a long turn with Stop; Send stays disabled while it runs', async () => {
    const page = await browser.newPage();
    await signIn(page, slow);
    await page.getByLabel('Message').fill('Tell me everything about your products.');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('[data-live-turn="streaming"] .answer-text').first().waitFor();

    await page.getByLabel('Message').fill('And another thing');
    expect(await page.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true);
    await page.getByLabel('If a run is going').selectOption('enqueue');
    expect(await page.getByRole('button', { name: 'Send' }).isDisabled()).toBe(false);
    await page.getByLabel('If a run is going').selectOption('');

    await page.getByRole('button', { name: 'Stop' }).click();
    await page.getByRole('status').filter({ hasText: 'The turn was stopped.' }).waitFor({ timeout: 10_000 });
    expect(await page.getByRole('button', { name: 'Stop' }).isDisabled()).toBe(true);
    const conversations = await slow.request('GET', '/v1/conversations');
    const id = conversations.body.conversations[0].id;
    const runs = await slow.request('GET', `/v1/conversations/${id}/runs`);
    expect(runs.body.runs).toEqual([
      expect.objectContaining({ status: 'cancelled', stop_reason: 'cancelled' }),
    ]);
    // One turn stored: the message sent, then what the model said (and, stopped after its tool call, the call and
    // its result: a Stop between a tool's result and the next model call leaves that result last) — never the
    // message typed while it ran.
    const stored = await slow.request('GET', `/v1/conversations/${id}`);
    const messages = stored.body.messages as { role: string; content: unknown }[];
    expect(messages[0]).toEqual(
      expect.objectContaining({ role: 'user', content: 'Tell me everything about your products.' }),
    );
    expect(messages.length).toBeGreaterThan(1);
    for (const later of messages.slice(1).filter((m) => m.role === 'user')) {
      expect((later.content as { type: string }[]).map((block) => block.type)).toEqual(
        expect.arrayContaining(['tool_result']),
      );
      expect(new Set((later.content as { type: string }[]).map((block) => block.type))).toEqual(
        new Set(['tool_result']),
      );
    }
    await page.close();
    expectNoBrowserErrors();
  }, 30_000);

  it('resumes a turn after a reload in its middle: it finishes once, nothing duplicated', async () => {
    const created = await slow.request('POST', '/v1/conversations', { json: { agent_name: 'support' } });
    expect(created.status).toBe(201);

    const page = await browser.newPage();
    await page.addInitScript(RECORD_LIVE_TEXT);
    await signIn(page, slow);
    await page.goto(`${slow.url}/console/#/chat/${created.body.id}`);
    await page.getByLabel('Message').fill('Tell me everything about your plans.');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('[data-live-turn="streaming"] .answer-text').first().waitFor();
    await page.waitForTimeout(600);
    // The run is still going when the page reloads, so the reloaded page has to resume it.
    const runs = await slow.request('GET', `/v1/conversations/${created.body.id}/runs`);
    expect(runs.body.runs.map((r: { status: string }) => r.status)).toEqual(['running']);
    await page.reload();

    await page.locator('[data-turn-stats]').waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-turn-stats]').count()).toBe(1);
    const samples = await liveSamples(page);
    expect(samples.length).toBeGreaterThan(0);
    const stored = await slow.request('GET', `/v1/conversations/${created.body.id}`);
    const answer = storedAnswer(stored.body.messages);
    for (const sample of samples) expect(answer.startsWith(sample)).toBe(true);
    const transcript = normalise((await page.locator('.transcript').textContent()) ?? '');
    for (const text of storedTexts(stored.body.messages)) expect(transcript.split(text).length).toBe(2);
    await page.close();
    expectNoBrowserErrors();
  }, 45_000);

  it('creates a task and follows it live to its result', async () => {
    const page = await browser.newPage();
    await signIn(page, t);
    await page.getByRole('link', { name: 'Tasks' }).click();
    await page.getByLabel('Instruction').fill('Check order 1001 and summarise its status.');
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.locator('[data-task-status]').filter({ hasText: 'completed' }).waitFor({ timeout: 20_000 });
    expect(normalise((await page.locator('.task-result').textContent()) ?? '')).toContain('order 1001');
    await page.locator('[data-unavailable], #deliveries ~ p, #deliveries ~ table').first().waitFor();
    await screenshot(page, 'tasks');
    await page.close();
    // The deliveries route is newer than some servers: a 404 there is shown as "not available".
    expectNoBrowserErrors([/status of 404.*\/deliveries/]);
  }, 30_000);

  it('shows the approvals inbox, or says the server has none', async () => {
    const page = await browser.newPage();
    await signIn(page, t);
    await page.getByRole('link', { name: 'Approvals' }).click();
    await page.getByRole('heading', { name: 'Approvals' }).waitFor();
    await page.locator('[data-unavailable], h2:has-text("Pending")').first().waitFor();
    await screenshot(page, 'approvals');
    await page.close();
    expectNoBrowserErrors([/status of 404.*\/v1\/approvals/]);
  }, 20_000);

  it('approves a pending tool call from the inbox, and the turn goes on', async () => {
    // Approvals need the server's runs: a server without them refuses `require_approval`.
    const created = await t.request('POST', '/v1/conversations', {
      json: { agent_name: 'support', require_approval: ['lookup_order'] },
    });
    if (created.status !== 201) {
      process.stderr.write(
        `\n!!! SKIPPED: approving a pending tool call (test/console.e2e-spec.ts): this server has no approvals yet ` +
          `(${created.status}: ${created.body.error?.message}).\n\n`,
      );
      return;
    }
    const page = await browser.newPage();
    await signIn(page, t);
    await page.goto(`${t.url}/console/#/chat/${created.body.id}`);
    await page.getByLabel('Message').fill('Where is order 1001?');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('article', { name: 'Approval for lookup_order' }).waitFor({ timeout: 10_000 });
    await page.getByRole('status').filter({ hasText: 'Waiting for a decision' }).waitFor();
    await screenshot(page, 'chat-approval');

    await page.getByRole('link', { name: 'Approvals' }).click();
    const pending = page.getByRole('article', { name: 'Approval for lookup_order' });
    await expect(pending.getByLabel('Arguments of lookup_order').textContent()).resolves.toContain('"1001"');
    await screenshot(page, 'approvals');
    await pending.getByRole('button', { name: 'Approve' }).click();
    await pending.waitFor({ state: 'detached' });
    // The decision moves to the decided list, with the key that made it.
    await page.getByRole('cell', { name: 'approved' }).first().waitFor();

    await page.getByRole('link', { name: 'Chat' }).click();
    await page.goto(`${t.url}/console/#/chat/${created.body.id}`);
    await page.locator('[data-turn-stats]').waitFor({ timeout: 15_000 });
    expect(normalise((await page.locator('.transcript').textContent()) ?? '')).toContain(
      'Order 1001 is shipped',
    );
    await page.close();
    expectNoBrowserErrors();
  }, 30_000);

  it('charts the spend and tokens of the turns just made on the cost page', async () => {
    const usage = await t.request('GET', '/v1/usage?group_by=day');
    const calls = usage.body.rows.reduce((sum: number, row: { requests: number }) => sum + row.requests, 0);
    expect(calls).toBeGreaterThanOrEqual(2);

    const page = await browser.newPage();
    await signIn(page, t);
    await page.getByRole('link', { name: 'Cost' }).click();
    const tokens = page.locator('figure[data-chart="tokens-by-day"]');
    await tokens.locator('.recharts-bar-rectangle').first().waitFor();
    expect(await page.locator('[data-total-requests]').textContent()).toBe(String(calls));
    const conversations = await t.request('GET', '/v1/conversations');
    const first = conversations.body.conversations[0].id as string;
    await page
      .locator('table.expensive')
      .getByRole('link', { name: first.slice(0, 8) })
      .waitFor();
    await screenshot(page, 'cost');
    await page.close();
    expectNoBrowserErrors();
  }, 30_000);

  it('lets an admin key create an agent, save a new version and delete it; a user key only reads', async () => {
    const name = `console-${Date.now().toString(36)}`;
    const page = await browser.newPage();
    await signIn(page, t, t.adminKey);
    await page.getByRole('link', { name: 'Agents' }).click();
    await page.getByRole('cell', { name: 'support', exact: true }).waitFor();
    await page.getByLabel('Agent name').fill(name);
    await page.getByLabel('Description').fill('Made in the console.');
    await page.getByLabel('System prompt').fill('First prompt.');
    await page.getByRole('checkbox', { name: 'calculator (builtin)' }).check();
    await page.getByRole('button', { name: 'Create agent' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Saved ${name} version 1.` })
      .waitFor();
    await page.getByRole('button', { name: `Edit ${name}` }).click();
    // The form holds the stored version once the agent has been read (typing before that races the read).
    await page.getByRole('button', { name: 'Save new version' }).waitFor();
    await page.getByLabel('System prompt').fill('Second prompt.');
    await page.getByRole('checkbox', { name: 'calculator needs approval' }).check();
    await page.getByRole('button', { name: 'Save new version' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Saved ${name} version 2.` })
      .waitFor();
    const stored = await t.request('GET', `/v1/agents/${name}`);
    expect(stored.body).toMatchObject({ version: 2, system_prompt: 'Second prompt.', tenant: t.tenantId });
    expect(stored.body.tools).toEqual([
      expect.objectContaining({ name: 'calculator', requires_approval: true }),
    ]);
    await screenshot(page, 'agents');
    await page.getByRole('button', { name: `Delete ${name}` }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Deleted ${name}.` })
      .waitFor();
    expect((await t.request('GET', `/v1/agents/${name}`)).status).toBe(404);
    await page.close();

    const asUser = await browser.newPage();
    await signIn(asUser, t);
    await asUser.getByRole('link', { name: 'Agents' }).click();
    await asUser.locator('[data-needs-admin]').waitFor();
    expect(await asUser.getByRole('button', { name: 'Create agent' }).count()).toBe(0);
    await asUser.close();
    expectNoBrowserErrors([/status of 403/]);
  }, 45_000);

  it('lets an admin key issue and revoke API keys', async () => {
    // A key issued elsewhere (over the API) is listed too.
    const elsewhere = await t.request('POST', '/v1/admin/api-keys', {
      key: t.adminKey,
      json: { tenant: t.tenantId, role: 'user', name: 'issued over the API' },
    });
    const page = await browser.newPage();
    await signIn(page, t, t.adminKey);
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('button', { name: 'Revoke issued over the API' }).waitFor();
    await page.getByLabel('Tenant').fill(t.tenantId);
    await page.getByLabel('Name').fill('console test key');
    await page.getByRole('button', { name: 'Issue key' }).click();
    const issued = (await page.locator('[data-new-key]').textContent())!.trim();
    expect((await t.request('GET', '/v1/agents', { key: issued })).status).toBe(200);
    await screenshot(page, 'keys');
    await page.getByRole('button', { name: 'Revoke console test key' }).click();
    await page.getByRole('status').filter({ hasText: 'is revoked' }).waitFor();
    expect((await t.request('GET', '/v1/agents', { key: issued })).status).toBe(401);
    await page.getByRole('button', { name: 'Revoke console test key' }).waitFor({ state: 'detached' });
    await page.getByLabel('Show revoked keys').check();
    await page
      .getByRole('row')
      .filter({ hasText: 'console test key' })
      .filter({ hasText: 'revoked' })
      .waitFor();
    await t.request('DELETE', `/v1/admin/api-keys/${elsewhere.body.id}`, { key: t.adminKey });
    await page.close();
    expectNoBrowserErrors();
  }, 20_000);

  it('lists MCP servers with their tools, and lets an admin key register and remove one', async () => {
    const mcp = await McpTestServer.start();
    const name = `console-${randomUUID().slice(0, 8)}`;
    try {
      const page = await browser.newPage();
      await signIn(page, t, t.adminKey);
      await page.getByRole('link', { name: 'MCP servers' }).click();
      await page.getByLabel('Server name').fill(name);
      await page.getByLabel('Server URL').fill(mcp.url);
      await page.getByRole('button', { name: 'Register server' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Registered ${name}` })
        .waitFor();
      const card = page.locator(`[data-mcp-server="${name}"]`);
      await card.getByText(/\d+ tools/).click();
      await card.getByText(`${name}__`).first().waitFor();
      await screenshot(page, 'mcp-servers');
      const listed = await t.request('GET', '/v1/mcp-servers', { key: t.adminKey });
      expect(listed.body.map((server: { name: string }) => server.name)).toContain(name);
      await page.getByRole('button', { name: `Remove ${name}` }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Removed ${name}` })
        .waitFor();
      const after = await t.request('GET', '/v1/mcp-servers', { key: t.adminKey });
      expect(after.body.map((server: { name: string }) => server.name)).not.toContain(name);

      // A user key sees the page without the admin controls.
      const user = await browser.newPage();
      await signIn(user, t);
      await user.getByRole('link', { name: 'MCP servers' }).click();
      await user.locator('[data-needs-admin]').waitFor();
      expect(await user.getByRole('button', { name: 'Register server' }).count()).toBe(0);
      await Promise.all([page.close(), user.close()]);
      // The user key's page asks whether it may manage keys (the admin-only key list answers 403).
      expectNoBrowserErrors([/status of 403.*\/v1\/admin\/api-keys/]);
    } finally {
      await mcp.stop();
    }
  }, 30_000);
});
