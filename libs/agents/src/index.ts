export type { AgentDefinition } from './agent';
export { toolsRequiringApproval } from './agent';
export { AgentRegistry, DEFAULT_AGENT } from './agent-registry';
export { AgentsModule } from './agents.module';
export { BUILTIN_AGENTS, SUPPORT_AGENT, SALES_AGENT } from './builtin-agents';
