// The built-in tools' names: agents list them, and the model calls them by these exact strings.
export const SEARCH_KNOWLEDGE_BASE = 'search_knowledge_base';
export const LOOKUP_ORDER = 'lookup_order';
export const CREATE_SUPPORT_TICKET = 'create_support_ticket';
export const GET_PRODUCT_CATALOG = 'get_product_catalog';
export const GET_PRICING = 'get_pricing';
export const CALCULATOR = 'calculator';
export const GET_CURRENT_TIME = 'get_current_time';

export const BUILTIN_TOOL_NAMES = [
  SEARCH_KNOWLEDGE_BASE,
  LOOKUP_ORDER,
  CREATE_SUPPORT_TICKET,
  GET_PRODUCT_CATALOG,
  GET_PRICING,
  CALCULATOR,
  GET_CURRENT_TIME,
] as const;

export type BuiltinToolName = (typeof BUILTIN_TOOL_NAMES)[number];
