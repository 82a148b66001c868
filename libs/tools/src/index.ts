export type {
  ResolvedTools,
  Tool,
  ToolCatalogEntry,
  ToolContext,
  ToolOrigin,
  ToolOutcome,
  ToolSource,
  ToolSpec,
} from './tool';
export { ToolError } from './tool';
export { ToolRegistry, MAX_TOOL_CONTENT_CHARS } from './tool-registry';
export { ToolsModule } from './tools.module';
export {
  SEARCH_KNOWLEDGE_BASE,
  LOOKUP_ORDER,
  CREATE_SUPPORT_TICKET,
  GET_PRODUCT_CATALOG,
  GET_PRICING,
  CALCULATOR,
  GET_CURRENT_TIME,
  BUILTIN_TOOL_NAMES,
} from './builtin/tool-names';
export type { BuiltinToolName } from './builtin/tool-names';
export type { KnowledgeBaseResult, KnowledgeBaseHit } from './builtin/search-knowledge-base.tool';
export type { OrderDetails, OrderItem, OrderStatus } from './builtin/lookup-order.tool';
export type { CalculatorResult } from './builtin/calculator.tool';
export type { SupportTicket } from './builtin/create-support-ticket.tool';
