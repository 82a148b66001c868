// The first admin key: from ADMIN_API_KEY when set; for a development server without it, a local key kept in a git-ignored file.
import { Injectable, Logger } from '@nestjs/common';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { AppConfig, UnauthorizedError } from '@lib/core';
import { ApiKeyService } from './api-key.service';

export type AdminKeySource =
  | { kind: 'environment'; apiKeyId: string }
  | { kind: 'local-file'; apiKeyId: string; path: string; created: boolean }
  | { kind: 'none' };

@Injectable()
export class AdminKeyBootstrap {
  private readonly logger = new Logger('ApiKeys');

  constructor(
    private readonly keys: ApiKeyService,
    private readonly config: AppConfig,
  ) {}

  /** Run once at start-up, after migrations. Production never generates a key on its own. */
  async ensureAdminKey(): Promise<AdminKeySource> {
    if (this.config.adminApiKey) return this.fromEnvironment(this.config.adminApiKey);
    if (this.config.nodeEnv === 'development') return this.fromLocalFile();
    if (this.config.nodeEnv === 'production') {
      this.logger.log('ADMIN_API_KEY is not set: create keys with `npm run keys:create` or the admin API.');
    }
    return { kind: 'none' };
  }

  private async fromEnvironment(key: string): Promise<AdminKeySource> {
    const tenant = this.config.defaultTenant;
    const registered = await this.keys.register(key, {
      tenant,
      role: 'admin',
      name: 'admin (ADMIN_API_KEY)',
    });
    if (registered.revoked) {
      this.logger.warn(
        `ADMIN_API_KEY names key ${registered.id}, which was revoked: set a new ADMIN_API_KEY.`,
      );
    } else if (registered.role !== 'admin') {
      this.logger.warn(`ADMIN_API_KEY names key ${registered.id}, which has the role ${registered.role}.`);
    } else if (registered.created) {
      this.logger.log(
        `Admin key from ADMIN_API_KEY registered as ${registered.id} (tenant ${registered.tenant}).`,
      );
    }
    return { kind: 'environment', apiKeyId: registered.id };
  }

  private async fromLocalFile(): Promise<AdminKeySource> {
    const path = resolve(this.config.localAdminKeyFile);
    const shown = relative(process.cwd(), path) || path;
    const existing = existsSync(path) ? readFileSync(path, 'utf8').trim() : '';
    if (existing) {
      const principal = await this.keys.authenticate(existing).catch((error: unknown) => {
        if (error instanceof UnauthorizedError) return undefined;
        throw error;
      });
      if (principal?.role === 'admin' && principal.apiKeyId) {
        this.logger.log(`Local admin key in ${shown} (${usage(shown, this.config.port)}).`);
        return { kind: 'local-file', apiKeyId: principal.apiKeyId, path, created: false };
      }
    }
    const issued = await this.keys.create({
      tenant: this.config.defaultTenant,
      role: 'admin',
      name: 'local development admin',
    });
    writeFileSync(path, `${issued.key}\n`, { mode: 0o600 });
    this.logger.log(
      `Generated a local admin key for tenant ${issued.tenant} and saved it in ${shown} (${usage(shown, this.config.port)}).`,
    );
    return { kind: 'local-file', apiKeyId: issued.id, path, created: true };
  }
}

function usage(file: string, port: number): string {
  return `try: curl -H "Authorization: Bearer $(cat ${file})" localhost:${port}/v1/agents`;
}
