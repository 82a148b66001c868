// Registering, reading and deleting MCP servers, and keeping their cached tool lists current.
import { Injectable } from '@nestjs/common';
import { ConflictError, ErrorDetail, IdGenerator, NotFoundError, ValidationError } from '@lib/core';
import { OutboundUrlPolicy } from '@lib/webhooks';
import { describe, McpEndpoint } from './mcp-clients';
import { MCP_SERVER_NAME } from './mcp-names';
import type { McpServerRecord, McpToolRecord } from './mcp-server-records';
import { McpServerRepository } from './mcp-server-repository';
import { McpToolListing } from './mcp-tool-listing';
import { SecretBox } from './secret-box';

/** Limits of `headers`: enough for bearer tokens and API keys, not a place to store documents. */
export const MCP_HEADER_LIMITS = { count: 20, valueChars: 4_096 } as const;

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;
// The transport sets these itself; a server's headers may not replace them.
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'accept',
  'connection',
  'transfer-encoding',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
]);

export interface NewMcpServer {
  name: string;
  url: string;
  headers?: Record<string, unknown>;
  /** Null: every tenant's. */
  tenant: string | null;
}

@Injectable()
export class McpServersService {
  constructor(
    private readonly servers: McpServerRepository,
    private readonly listing: McpToolListing,
    private readonly secrets: SecretBox,
    private readonly policy: OutboundUrlPolicy,
    private readonly ids: IdGenerator,
  ) {}

  /**
   * Registers a server after checking everything before any side effect: its name, its URL against the SSRF guard,
   * its headers (sealed, or refused without SECRETS_KEY), then contacts it and lists its tools (400 with the reason
   * when it cannot be reached or does not answer in MCP).
   */
  async register(input: NewMcpServer, createdBy: string | null): Promise<McpServerRecord> {
    if (!MCP_SERVER_NAME.test(input.name)) {
      throw new ValidationError('The request is invalid.', [
        {
          field: 'name',
          message: 'name must be 1 to 32 lowercase letters, digits or "-", starting with a letter or digit',
        },
      ]);
    }
    const headers = validHeaders(input.headers);
    await this.policy.assertAcceptable(input.url, 'url');
    const headersSealed = Object.keys(headers).length
      ? this.secrets.seal(JSON.stringify(headers), 'MCP server headers')
      : null;
    const endpoint: McpEndpoint = { id: this.ids.uuid(), name: input.name, url: input.url, headersSealed };
    let tools: McpToolRecord[];
    try {
      tools = await this.listing.read(endpoint);
    } catch (error) {
      const reason = redact(describe(error), Object.values(headers));
      throw new ValidationError(`The MCP server at url could not be used: ${reason}`, [
        { field: 'url', message: `the MCP server could not be contacted or listed: ${reason}` },
      ]);
    }
    if (!(await this.servers.insert({ ...endpoint, tenantId: input.tenant, tools }, createdBy))) {
      throw new ConflictError(
        input.tenant === null
          ? `An MCP server named "${input.name}" already exists; a global server's name must be unused by every tenant.`
          : `An MCP server named "${input.name}" already exists for this tenant or for every tenant.`,
      );
    }
    return (await this.servers.byId(endpoint.id))!;
  }

  list(tenantId: string): Promise<McpServerRecord[]> {
    return this.servers.visible(tenantId);
  }

  async get(tenantId: string, id: string): Promise<McpServerRecord> {
    const server = await this.servers.visibleById(tenantId, id);
    if (!server) throw new NotFoundError(`MCP server ${id}`);
    return server;
  }

  async delete(tenantId: string, id: string): Promise<void> {
    if (!(await this.servers.delete(tenantId, id))) throw new NotFoundError(`MCP server ${id}`);
    this.listing.forget(id);
  }
}

/** The headers as strings, or a 400 naming each one at fault. */
function validHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  if (headers === undefined) return {};
  const details: ErrorDetail[] = [];
  const entries = Object.entries(headers);
  if (entries.length > MCP_HEADER_LIMITS.count) {
    details.push({
      field: 'headers',
      message: `headers may hold at most ${MCP_HEADER_LIMITS.count} entries`,
    });
  }
  const seen = new Set<string>();
  for (const [name, value] of entries) {
    const field = `headers.${name.slice(0, 100)}`;
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name)) details.push({ field, message: 'is not a valid header name' });
    else if (RESERVED_HEADERS.has(lower))
      details.push({ field, message: 'is set by the MCP transport itself' });
    else if (seen.has(lower)) details.push({ field, message: 'is given twice (header names ignore case)' });
    else if (typeof value !== 'string') details.push({ field, message: 'must be a string' });
    else if (value.length > MCP_HEADER_LIMITS.valueChars) {
      details.push({ field, message: `must be at most ${MCP_HEADER_LIMITS.valueChars} characters` });
    } else if (/[\r\n\0]/.test(value) || !value.length) {
      details.push({ field, message: 'must be non-empty, without line breaks or NUL' });
    }
    seen.add(lower);
  }
  if (details.length) throw new ValidationError('The headers are invalid.', details);
  return headers as Record<string, string>;
}

/** A server's answer may quote what it was sent: the header values are masked in anything shown or logged. */
function redact(text: string, secrets: unknown[]): string {
  let result = text;
  for (const secret of secrets) {
    if (typeof secret === 'string' && secret.length >= 4) result = result.split(secret).join('[redacted]');
  }
  return result;
}
