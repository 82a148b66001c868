// MCP client sessions to the registered servers, one per server and instance, over the streamable HTTP transport
// (no stdio: tenants' servers never run on this host). A lost session is reopened once per call.
import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResult, ErrorCode, McpError, Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { AppConfig } from '@lib/core';
import { OutboundUrlPolicy } from '@lib/webhooks';
import { pinnedFetch } from './pinned-fetch';
import { SecretBox } from './secret-box';

/** What it takes to reach a server. */
export interface McpEndpoint {
  id: string;
  name: string;
  url: string;
  headersSealed: string | null;
}

/** Tools are listed in pages; a server with more than this many pages is cut there. */
const MAX_LIST_PAGES = 20;
/** A client nobody called for this long is closed; the next call opens a new session. */
const IDLE_MS = 5 * 60_000;
/** Tool calls are bounded by the registry's timeout (it aborts the call); the SDK's own clock stays out of the way. */
const CALL_TIMEOUT_MS = 24 * 3_600_000;

interface Session {
  client: Client;
  lastUsed: number;
}

export type ToolsChangedListener = (endpoint: McpEndpoint, tools: McpTool[]) => void;

@Injectable()
export class McpClients implements OnModuleDestroy {
  private readonly logger = new Logger('McpClients');
  private readonly sessions = new Map<string, Promise<Session>>();
  private readonly listeners: ToolsChangedListener[] = [];
  private readonly fetch;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly config: AppConfig,
    private readonly secrets: SecretBox,
    policy: OutboundUrlPolicy,
  ) {
    this.fetch = pinnedFetch(policy);
    this.sweeper = setInterval(() => this.closeIdle(), 60_000);
    this.sweeper.unref();
  }

  /** Called with a server's new tool list when it sends `notifications/tools/list_changed`. */
  onToolsChanged(listener: ToolsChangedListener): void {
    this.listeners.push(listener);
  }

  /**
   * Opens a session, lists the server's tools and closes it: what registration and the scheduled refresh do. (The
   * sessions that calls open hear the server's `tools/list_changed`.)
   */
  async listTools(endpoint: McpEndpoint): Promise<McpTool[]> {
    const client = await this.connect(endpoint);
    try {
      return await this.list(client);
    } finally {
      await client.close().catch(() => undefined);
    }
  }

  /**
   * Calls a tool. A failure of the session or the connection (the server restarted and forgot the session, a dropped
   * connection, an answer that is not MCP) opens a new session and tries once more; an error the server answered
   * (bad params, unknown tool) and a cancellation are not retried.
   */
  async callTool(
    endpoint: McpEndpoint,
    name: string,
    args: Record<string, unknown>,
    meta: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<CallToolResult> {
    const call = async (): Promise<CallToolResult> => {
      const session = await this.session(endpoint);
      session.lastUsed = Date.now();
      try {
        return (await session.client.callTool({ name, arguments: args, _meta: meta }, undefined, {
          signal,
          timeout: CALL_TIMEOUT_MS,
        })) as CallToolResult;
      } catch (error) {
        if (!signal.aborted && isSessionFailure(error)) this.discard(endpoint.id, session);
        throw error;
      }
    };
    try {
      return await call();
    } catch (error) {
      if (signal.aborted || !isSessionFailure(error)) throw error;
      this.logger.warn(
        `MCP server "${endpoint.name}" (${endpoint.id}): the session failed (${describe(error)}); reconnecting once.`,
      );
      return call();
    }
  }

  /** Closes this instance's session with a server (it was deleted). */
  close(id: string): void {
    const session = this.sessions.get(id);
    this.sessions.delete(id);
    void session?.then((s) => s.client.close()).catch(() => undefined);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.sweeper);
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(
      sessions.map((s) => s.then((session) => session.client.close()).catch(() => undefined)),
    );
  }

  private session(endpoint: McpEndpoint): Promise<Session> {
    let session = this.sessions.get(endpoint.id);
    if (!session) {
      session = this.connect(endpoint).then((client) => ({ client, lastUsed: Date.now() }));
      this.sessions.set(endpoint.id, session);
      // A failed connect is not kept: the next call tries again.
      session.catch(() => {
        if (this.sessions.get(endpoint.id) === session) this.sessions.delete(endpoint.id);
      });
    }
    return session;
  }

  private discard(id: string, session: Session): void {
    void this.sessions.get(id)?.then((current) => {
      if (current !== session) return;
      this.sessions.delete(id);
      void session.client.close().catch(() => undefined);
    });
  }

  private async connect(endpoint: McpEndpoint): Promise<Client> {
    // Opened only here, for the request's headers: the clear text never leaves this function's transport.
    const headers = endpoint.headersSealed
      ? (JSON.parse(this.secrets.open(endpoint.headersSealed, 'MCP server headers')) as Record<
          string,
          string
        >)
      : {};
    const transport = new StreamableHTTPClientTransport(new URL(endpoint.url), {
      fetch: this.fetch,
      requestInit: { headers },
      reconnectionOptions: {
        initialReconnectionDelay: 500,
        maxReconnectionDelay: 5_000,
        reconnectionDelayGrowFactor: 2,
        maxRetries: 2,
      },
    });
    const client: Client = new Client(
      { name: 'agent-backend', version: '1.0.0' },
      {
        capabilities: {},
        listChanged: {
          tools: {
            onChanged: (error, tools) => {
              if (error) {
                this.logger.warn(
                  `MCP server "${endpoint.name}" (${endpoint.id}) changed its tools, which could not be listed: ${describe(error)}`,
                );
              } else if (tools) {
                // The SDK lists one page on a change; a server with more pages is read in full.
                void this.list(client)
                  .catch(() => tools)
                  .then((all) => {
                    for (const listener of this.listeners) listener(endpoint, all);
                  });
              }
            },
          },
        },
      },
    );
    client.onerror = (error) =>
      this.logger.debug(`MCP server "${endpoint.name}" (${endpoint.id}): ${describe(error)}`);
    await client.connect(transport, { timeout: this.config.mcpConnectTimeoutMs });
    return client;
  }

  private async list(client: Client): Promise<McpTool[]> {
    const tools: McpTool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page += 1) {
      const result = await client.listTools(cursor ? { cursor } : {}, {
        timeout: this.config.mcpConnectTimeoutMs,
      });
      tools.push(...result.tools);
      cursor = result.nextCursor;
      if (!cursor) break;
    }
    return tools;
  }

  private closeIdle(): void {
    const now = Date.now();
    for (const [id, pending] of this.sessions) {
      void pending
        .then((session) => {
          if (now - session.lastUsed > IDLE_MS && this.sessions.get(id) === pending) {
            this.sessions.delete(id);
            void session.client.close().catch(() => undefined);
          }
        })
        .catch(() => undefined);
    }
  }
}

/** Whether the error is the session's or the connection's (worth one new session), not the server's answer. */
export function isSessionFailure(error: unknown): boolean {
  if (error instanceof McpError) return error.code === ErrorCode.ConnectionClosed;
  return true;
}

/** One line on a failure, without a stack; it never holds the request's headers. */
export function describe(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  if (
    error instanceof StreamableHTTPError &&
    error.code !== undefined &&
    !message.includes(String(error.code))
  ) {
    message = `HTTP ${error.code}: ${message}`;
  }
  const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${message}${cause}`.split('\n')[0].slice(0, 500);
}
