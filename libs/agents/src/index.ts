export type { AgentDefinition, AgentPin, StoredAgent } from './agent';
export { AGENT_DEFAULTS, AGENT_LIMITS, AGENT_NAME_PATTERN } from './agent';
export { AgentRegistry, AGENTS_CHANGED_CHANNEL, DEFAULT_AGENT } from './agent-registry';
export { AgentService } from './agent-service';
export type { AgentAuthor, AgentInput, AgentOwnerChoice } from './agent-service';
export { approvalTools } from './agent';
export { AgentsModule } from './agents.module';
