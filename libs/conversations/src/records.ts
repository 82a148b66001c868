// The plain records this lib hands out and takes in.
import type { ChatMessage, ContentBlock, Role } from '@lib/llm';

export interface Conversation {
  id: string;
  tenantId: string;
  agentName: string;
  title: string | null;
  status: 'active' | 'archived';
  temperature: number | null;
  maxIterations: number | null;
  metadata: Record<string, unknown>;
  messageCount: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  createdAt: Date;
  lastMessageAt: Date | null;
}

export interface StoredMessage {
  id: string;
  role: Role;
  content: string | ContentBlock[];
  createdAt: Date;
}

export interface NewConversation {
  id: string;
  agentName: string;
  title?: string | null;
  temperature?: number | null;
  maxIterations?: number | null;
  metadata?: Record<string, unknown>;
}

/** One model call of a turn, as recorded in llm_calls. */
export interface LlmCallRecord {
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cost_usd: number;
  latency_ms: number;
  time_to_first_token_ms: number | null;
  stop_reason: string;
}

export interface TurnRecord {
  tenantId: string;
  conversationId: string;
  agentName: string;
  messages: ChatMessage[];
  llmCalls: LlmCallRecord[];
}

export interface AppendedTurn {
  messageIds: string[];
  conversation: Conversation;
}

export interface Page<T> {
  items: T[];
  total: number;
}
