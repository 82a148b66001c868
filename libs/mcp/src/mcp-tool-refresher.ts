// Keeps the cached tool lists current: every MCP_TOOLS_REFRESH_SECONDS per server (one instance per server and
// period), and at once when a server with an open session announces `tools/list_changed`.
import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '@lib/core';
import { describe, McpClients } from './mcp-clients';
import type { McpServerRecord } from './mcp-server-records';
import { McpServerRepository } from './mcp-server-repository';
import { McpToolListing } from './mcp-tool-listing';

/** Servers whose tools are refreshed per pass of the schedule (per instance). */
const REFRESH_BATCH = 20;

@Injectable()
export class McpToolRefresher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('McpServers');
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly servers: McpServerRepository,
    private readonly listing: McpToolListing,
    private readonly clients: McpClients,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.clients.onToolsChanged((endpoint, listed) => {
      void this.listing.save(endpoint, this.listing.usable(endpoint, listed), 'tools/list_changed');
    });
    const periodMs = Math.min(this.config.mcpToolsRefreshSeconds * 1000, 60_000);
    this.timer = setInterval(() => void this.refreshStale(), periodMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** One pass of the schedule: lists the tools of the servers whose list is older than MCP_TOOLS_REFRESH_SECONDS. */
  async refreshStale(): Promise<void> {
    let stale: McpServerRecord[];
    try {
      stale = await this.servers.claimStale(
        new Date(Date.now() - this.config.mcpToolsRefreshSeconds * 1000),
        REFRESH_BATCH,
      );
    } catch (error) {
      this.logger.warn(`Could not read the MCP servers to refresh: ${describe(error)}`);
      return;
    }
    for (const server of stale) {
      try {
        await this.listing.save(server, await this.listing.read(server), 'schedule');
      } catch (error) {
        // The last good list stays (the claim moved its time on): the next period tries again.
        this.logger.warn(
          `MCP server "${server.name}" (${server.id}): its tools could not be refreshed: ${describe(error)}`,
        );
      }
    }
  }
}
