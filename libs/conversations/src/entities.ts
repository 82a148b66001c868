// Table mappings of the conversation history; they stay inside this lib (callers get plain records).
import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { ContentBlock, Role } from '@lib/llm';

const numeric = { to: (v: number) => v, from: (v: string | null) => (v === null ? 0 : Number(v)) };

@Entity({ name: 'conversations' })
export class ConversationEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('text') tenant_id: string;
  @Column('text') agent_name: string;
  @Column('uuid', { nullable: true }) agent_id: string | null;
  @Column('integer', { nullable: true }) agent_version: number | null;
  @Column('text', { nullable: true }) title: string | null;
  @Column('text') status: 'active' | 'archived';
  @Column('real', { nullable: true }) temperature: number | null;
  @Column('integer', { nullable: true }) max_iterations: number | null;
  @Column('jsonb') metadata: Record<string, unknown>;
  @Column('integer') message_count: number;
  @Column('bigint', { transformer: numeric }) input_tokens: number;
  @Column('bigint', { transformer: numeric }) output_tokens: number;
  @Column('numeric', { transformer: numeric }) cost_usd: number;
  @Column('numeric', { nullable: true }) cost_limit_usd: string | null;
  @Column('integer', { nullable: true }) max_context_tokens: number | null;
  @Column('integer') tool_results_cleared_before: number;
  @Column('timestamptz') created_at: Date;
  @Column('timestamptz', { nullable: true }) last_message_at: Date | null;
  @Column('timestamptz') last_activity_at: Date;
  /** The fencing token of the last lease that appended a turn (0: none yet). */
  @Column('bigint') fence: string;
  /** Tools whose calls wait for a decision in this conversation, besides those its agent names. */
  @Column('text', { array: true }) require_approval: string[];
}

@Entity({ name: 'messages' })
export class MessageEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid') conversation_id: string;
  @Column('integer') seq: number;
  @Column('text') role: Role;
  @Column('jsonb') content: string | ContentBlock[];
  @Column('timestamptz') created_at: Date;
}

@Entity({ name: 'llm_calls' })
export class LlmCallEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('text') tenant_id: string;
  @Column('uuid', { nullable: true }) conversation_id: string | null;
  @Column('text') agent_name: string;
  @Column('text') model: string;
  @Column('integer') input_tokens: number;
  @Column('integer') output_tokens: number;
  @Column('integer') cache_creation_input_tokens: number;
  @Column('integer') cache_read_input_tokens: number;
  @Column('numeric', { transformer: numeric }) cost_usd: number;
  @Column('integer') latency_ms: number;
  @Column('integer', { nullable: true }) time_to_first_token_ms: number | null;
  @Column('text') stop_reason: string;
  @Column('text') status: 'completed' | 'cancelled' | 'failed';
  @Column('boolean') unknown_model_price: boolean;
  @Column('uuid', { nullable: true }) api_key_id: string | null;
  @Column('uuid', { nullable: true }) task_id: string | null;
  @Column('timestamptz') created_at: Date;
}

@Entity({ name: 'conversation_summaries' })
export class ConversationSummaryEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid') conversation_id: string;
  @Column('text') tenant_id: string;
  @Column('integer') first_seq: number;
  @Column('integer') last_seq: number;
  @Column('text') text: string;
  @Column('text') model: string;
  @Column('integer') tokens: number;
  @Column('timestamptz') created_at: Date;
}
