// The tool registry with every built-in tool registered. Expects the app to provide DataSource, AppConfig and Clock.
import { Module } from '@nestjs/common';
import { AppConfig } from '@lib/core';
import { CalculatorTool } from './builtin/calculator.tool';
import { CreateSupportTicketTool } from './builtin/create-support-ticket.tool';
import { DemoStore } from './builtin/demo-store';
import { GetCurrentTimeTool } from './builtin/get-current-time.tool';
import { GetPricingTool } from './builtin/get-pricing.tool';
import { GetProductCatalogTool } from './builtin/get-product-catalog.tool';
import { LookupOrderTool } from './builtin/lookup-order.tool';
import { SearchKnowledgeBaseTool } from './builtin/search-knowledge-base.tool';
import { Tool } from './tool';
import { ToolRegistry } from './tool-registry';

const BUILTIN_TOOLS = [
  SearchKnowledgeBaseTool,
  LookupOrderTool,
  CreateSupportTicketTool,
  GetProductCatalogTool,
  GetPricingTool,
  CalculatorTool,
  GetCurrentTimeTool,
];

@Module({
  providers: [
    DemoStore,
    ...BUILTIN_TOOLS,
    {
      // Registered in the factory rather than at module init, so whoever injects the registry sees every tool.
      provide: ToolRegistry,
      inject: [AppConfig, ...BUILTIN_TOOLS],
      useFactory: (config: AppConfig, ...tools: Tool<never>[]): ToolRegistry => {
        const registry = new ToolRegistry(config);
        for (const tool of tools) registry.register(tool);
        return registry;
      },
    },
  ],
  exports: [ToolRegistry],
})
export class ToolsModule {}
