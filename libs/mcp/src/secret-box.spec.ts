import { randomBytes } from 'node:crypto';
import { AppConfig, ServiceUnavailableError } from '@lib/core';
import { SecretBox } from './secret-box';

const box = (secretsKey: string) => new SecretBox(Object.assign(new AppConfig(), { secretsKey }));

describe('SecretBox', () => {
  const base64Key = randomBytes(32).toString('base64');

  it('seals with AES-256-GCM: the sealed text holds no clear text, and opens back', () => {
    const sealed = box(base64Key).seal('{"Authorization":"Bearer top-secret"}', 'headers');
    expect(sealed).toMatch(/^v1:/);
    expect(sealed).not.toContain('top-secret');
    expect(box(base64Key).open(sealed, 'headers')).toBe('{"Authorization":"Bearer top-secret"}');
  });

  it('uses a fresh IV each time', () => {
    const one = box(base64Key).seal('same', 'headers');
    expect(box(base64Key).seal('same', 'headers')).not.toBe(one);
  });

  it('accepts a hex key', () => {
    const hex = randomBytes(32).toString('hex');
    expect(box(hex).open(box(hex).seal('x', 'headers'), 'headers')).toBe('x');
  });

  it('refuses a tampered value or another key', () => {
    const sealed = box(base64Key).seal('secret', 'headers');
    const bytes = Buffer.from(sealed.slice(3), 'base64');
    bytes[14] ^= 1;
    expect(() => box(base64Key).open(`v1:${bytes.toString('base64')}`, 'headers')).toThrow();
    expect(() => box(randomBytes(32).toString('base64')).open(sealed, 'headers')).toThrow();
  });

  it('without SECRETS_KEY refuses to seal (503) instead of storing clear text', () => {
    expect(box('').configured).toBe(false);
    expect(() => box('').seal('secret', 'MCP server headers')).toThrow(ServiceUnavailableError);
    expect(() => box('').seal('secret', 'MCP server headers')).toThrow(/SECRETS_KEY is not set/);
  });
});
