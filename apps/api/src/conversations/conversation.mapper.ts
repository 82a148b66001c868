import type { Conversation, StoredMessage } from '@lib/conversations';
import type { ConversationSummaryDto, MessageDto } from './conversation.dto';

export function toSummary(c: Conversation): ConversationSummaryDto {
  return {
    id: c.id,
    agent_name: c.agentName,
    agent_version: c.agentPin?.version ?? null,
    title: c.title,
    message_count: c.messageCount,
    created_at: c.createdAt.toISOString(),
    last_message_at: c.lastMessageAt ? c.lastMessageAt.toISOString() : null,
    status: c.status,
    total_tokens: c.inputTokens + c.outputTokens,
    cost_usd: c.costUsd,
    cost_limit_usd: c.costLimitUsd,
    require_approval: c.requireApproval,
    max_context_tokens: c.maxContextTokens,
  };
}

export function toMessage(m: StoredMessage): MessageDto {
  return { id: m.id, role: m.role, content: m.content, created_at: m.createdAt.toISOString() };
}
