// Secrets at rest (MCP servers' headers): AES-256-GCM under SECRETS_KEY. Without the key nothing is stored at all.
import { Injectable } from '@nestjs/common';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppConfig, ServiceUnavailableError } from '@lib/core';

const VERSION = 'v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

@Injectable()
export class SecretBox {
  private readonly key: Buffer | undefined;

  constructor(config: AppConfig) {
    const raw = config.secretsKey;
    this.key = raw ? Buffer.from(raw, /^[0-9a-fA-F]{64}$/.test(raw) ? 'hex' : 'base64') : undefined;
  }

  get configured(): boolean {
    return this.key !== undefined;
  }

  /** `v1:` + base64(iv ‖ ciphertext ‖ tag); refuses (503) when no key is configured: never stored in clear. */
  seal(plaintext: string, field: string): string {
    const key = this.requireKey(field);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const sealed = Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return VERSION + sealed.toString('base64');
  }

  /** The plaintext of a sealed value; throws when the key is missing or is not the one that sealed it. */
  open(sealed: string, field: string): string {
    const key = this.requireKey(field);
    if (!sealed.startsWith(VERSION)) throw new Error('The sealed value has an unknown format.');
    const bytes = Buffer.from(sealed.slice(VERSION.length), 'base64');
    if (bytes.length < IV_BYTES + TAG_BYTES) throw new Error('The sealed value is truncated.');
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  }

  private requireKey(field: string): Buffer {
    if (!this.key) {
      throw new ServiceUnavailableError(
        `This deployment cannot store or use ${field}: SECRETS_KEY is not set, and secrets are never stored in clear. ` +
          'Set SECRETS_KEY (32 random bytes, base64 or hex) on every process.',
      );
    }
    return this.key;
  }
}
