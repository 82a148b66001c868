// `npm run keys:create`: argument checks with clear messages, and a key that works, printed once on standard output.
import { randomUUID } from 'node:crypto';
import { runKeysCreate } from '../apps/api/src/cli/keys-create';
import { removeTenantData, startTestApp, TestApp } from './support/app';
import { testEnv } from './support/test-env';

describe('npm run keys:create', () => {
  let t: TestApp;
  const tenant = `test-cli-${randomUUID()}`;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
    await removeTenantData(tenant);
  });

  const run = async (argv: string[]) => {
    let out = '';
    let err = '';
    const code = await runKeysCreate(argv, testEnv(), {
      out: (text) => (out += text),
      err: (text) => (err += text),
    });
    return { code, out, err };
  };

  it.each([
    [[], /^--tenant is required/],
    [['--name', 'svc'], /^--tenant is required/],
    [['--tenant', 'acme'], /^--name is required/],
    [['--tenant', 'acme corp', '--name', 'svc'], /^--tenant must be 1 to 100 letters/],
    [['--tenant', 'acme', '--name', 'svc', '--role', 'root'], /^--role must be user or admin, got "root"/],
    [['--tenant', 'acme', '--name', 'svc', '--scope', 'all'], /^Unknown flag --scope/],
    [['--tenant', 'acme', '--tenant', 'other', '--name', 'svc'], /^--tenant is given twice/],
    [['--tenant'], /^--tenant needs a value/],
    [['acme'], /^Unexpected argument "acme"/],
  ])('refuses %j with exit code 2 and a sentence saying what to fix', async (argv, message) => {
    const { code, out, err } = await run(argv);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(message);
    expect(err).toContain('Usage: npm run keys:create -- --tenant <tenant> --name <who uses it>');
  });

  it('prints a new key alone on standard output; the key works for its tenant and role', async () => {
    const { code, out, err } = await run(['--tenant', tenant, '--role', 'user', '--name=billing-service']);
    expect(code).toBe(0);
    const key = out.trim();
    expect(key).toMatch(/^ak_live_[0-9A-Za-z]{43}$/);
    expect(err).toMatch(new RegExp(`for tenant ${tenant}, role user, name "billing-service"`));
    expect(err).not.toContain(key);
    const created = await t.request('POST', '/v1/conversations', { key, json: { agent_name: 'support' } });
    expect(created.status).toBe(201);
    expect((await t.request('GET', `/v1/conversations/${created.body.id}`)).status).toBe(404);
    expect((await t.request('GET', `/v1/conversations/${created.body.id}`, { key })).status).toBe(200);
    const admin = await t.request('POST', '/v1/admin/api-keys', { key, json: {} });
    expect(admin.status).toBe(403);
  });

  it('issues admin keys when asked', async () => {
    const { code, out } = await run(['--tenant', tenant, '--role', 'admin', '--name', 'ops']);
    expect(code).toBe(0);
    const res = await t.request('POST', '/v1/admin/api-keys', {
      key: out.trim(),
      json: { tenant, role: 'user', name: 'made by ops' },
    });
    expect(res.status).toBe(201);
  });

  it('explains its flags with --help', async () => {
    const { code, err } = await run(['--help']);
    expect(code).toBe(0);
    expect(err).toContain('--role    user (default) or admin');
  });
});
