// The wire shapes the console reads, as CONTRACT.md pins them (version 2 fields optional: older servers omit them).

export interface Agent {
  name: string;
  description: string;
  model: string;
  tools: string[];
  /** Always null: no temperature is sent to the model. */
  temperature: number | null;
  max_iterations: number;
  /** The agent's owner: a tenant, or null for an agent of every tenant. */
  tenant?: string | null;
  version?: number;
}

/** One agent as `GET /v1/agents/{name}` shows it: the whole current version, tools resolved. */
export interface AgentDetail {
  name: string;
  tenant: string | null;
  version: number;
  description: string;
  system_prompt: string;
  model: string;
  /** Always null: no temperature is sent to the model. */
  temperature: number | null;
  max_iterations: number;
  max_tokens: number;
  thinking_budget_tokens: number | null;
  tools: Array<{ name: string; requires_approval: boolean; origin: string | null }>;
}

/** What POST /v1/agents and PUT /v1/agents/{name} take. */
export interface AgentBody {
  name?: string;
  description: string;
  system_prompt: string;
  tools: Array<string | { name: string; requires_approval: boolean }>;
  max_iterations?: number;
  tenant?: string | null;
}

export interface ToolInfo {
  name: string;
  description: string;
  origin: string;
}

export interface ConversationSummary {
  id: string;
  agent_name: string;
  title: string | null;
  message_count: number;
  created_at: string;
  last_message_at: string | null;
  status: string;
  total_tokens: number;
  cost_usd: number;
}

export interface ConversationPage {
  conversations: ConversationSummary[];
  total: number;
  page: number;
  page_size: number;
}

export type ContentBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; tool_use_id: string; content: unknown; is_error?: boolean }
  | { type: string; [field: string]: unknown };

export interface Message {
  id: string;
  role: 'user' | 'assistant';
  content: string | ContentBlock[];
  created_at: string;
}

export interface ConversationDetail extends ConversationSummary {
  messages?: Message[];
}

export interface TaskStatus {
  task_id: string;
  agent_name: string;
  status: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  progress: number;
  result: string | null;
  error: string | { message?: string } | null;
  total_tokens: number;
  cost_usd: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  conversation_id?: string | null;
}

export interface TaskPage {
  tasks: TaskStatus[];
  total: number;
  page: number;
  page_size: number;
}

export interface Delivery {
  webhook_id: string;
  event: string;
  attempt: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number | null;
  at: string;
}

export interface Approval {
  run_id: string;
  conversation_id: string;
  tool_use_id: string;
  tool_name: string;
  arguments: unknown;
  /** Not in the pinned list shape; sent back with the decision when a server includes it. */
  arguments_sha256?: string;
  status: string;
  decided_by: string | null;
  decided_at: string | null;
  reason: string | null;
  expires_at: string | null;
}

export interface UsageRow {
  key: string | null;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

export interface UsageReport {
  rows: UsageRow[];
  total_cost_usd: number;
}

export interface ApiKeyIssued {
  id: string;
  key: string;
  tenant: string;
  role: 'user' | 'admin';
  name: string;
}

export interface ApiKeyInfo {
  id: string;
  tenant: string;
  role: 'user' | 'admin';
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface ApiKeyList {
  keys: ApiKeyInfo[];
  total: number;
  page: number;
  page_size: number;
}
