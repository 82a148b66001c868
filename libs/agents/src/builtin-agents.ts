import type { AgentDefinition } from './agent';

export const SUPPORT_AGENT: AgentDefinition = {
  name: 'support',
  description:
    'Customer support: answers how-to questions from the knowledge base, tracks orders, opens tickets.',
  systemPrompt: [
    'You are the customer support agent of an online software and hardware store.',
    'Answer from facts you obtain with your tools: search the knowledge base for how-to questions,',
    'look up orders by number, and open a support ticket when the customer needs a human to follow up.',
    'Never invent order details, prices or policies. Be concise and friendly; use short paragraphs.',
    'If a tool reports an error, explain what went wrong and what the customer can do next.',
  ].join(' '),
  model: '',
  temperature: 0.3,
  maxIterations: 6,
  maxTokens: 2048,
  tools: [
    'search_knowledge_base',
    'lookup_order',
    'create_support_ticket',
    'get_product_catalog',
    'calculator',
    'get_current_time',
  ],
};

export const SALES_AGENT: AgentDefinition = {
  name: 'sales',
  description: 'Sales assistant: explains products and plans, and computes quotes for a number of seats.',
  systemPrompt: [
    'You are the sales assistant of an online software and hardware store.',
    'Use the product catalogue and the pricing tool for every product or price you mention, and the',
    'calculator for any arithmetic in a quote. Recommend the smallest plan that fits the need and say why.',
    'Never promise discounts or features that the tools do not show.',
  ].join(' '),
  model: '',
  temperature: 0.5,
  maxIterations: 6,
  maxTokens: 2048,
  tools: ['get_product_catalog', 'get_pricing', 'calculator', 'search_knowledge_base', 'get_current_time'],
};

export const BUILTIN_AGENTS: readonly AgentDefinition[] = [SUPPORT_AGENT, SALES_AGENT];
