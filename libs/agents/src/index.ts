export type { AgentDefinition } from './agent';
export { AgentRegistry, DEFAULT_AGENT, MIN_THINKING_BUDGET } from './agent-registry';
export { AgentsModule } from './agents.module';
export { BUILTIN_AGENTS, SUPPORT_AGENT, SALES_AGENT } from './builtin-agents';
