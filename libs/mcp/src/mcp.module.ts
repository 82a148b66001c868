// MCP servers as data: their registry, the client sessions to them, and their tools as a source of the tool registry.
import { Module, OnModuleInit } from '@nestjs/common';
import { ToolRegistry, ToolsModule } from '@lib/tools';
import { WebhooksModule } from '@lib/webhooks';
import { McpClients } from './mcp-clients';
import { McpServerRepository } from './mcp-server-repository';
import { McpServersService } from './mcp-servers.service';
import { McpSchemaCompiler } from './mcp-tool-schemas';
import { McpToolListing } from './mcp-tool-listing';
import { McpToolRefresher } from './mcp-tool-refresher';
import { McpToolSource } from './mcp-tool-source';
import { SecretBox } from './secret-box';

@Module({
  imports: [ToolsModule, WebhooksModule],
  providers: [
    SecretBox,
    McpServerRepository,
    McpClients,
    { provide: McpSchemaCompiler, useFactory: () => new McpSchemaCompiler() },
    McpToolSource,
    McpToolListing,
    McpToolRefresher,
    McpServersService,
  ],
  exports: [McpServersService, McpToolRefresher, SecretBox],
})
export class McpModule implements OnModuleInit {
  constructor(
    private readonly registry: ToolRegistry,
    private readonly source: McpToolSource,
  ) {}

  onModuleInit(): void {
    this.registry.addSource(this.source);
  }
}
