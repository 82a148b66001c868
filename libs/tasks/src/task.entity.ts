// The table mapping of background tasks; it stays inside this lib (callers get records).
import { Column, Entity, PrimaryColumn } from 'typeorm';

const numeric = { to: (v: number) => v, from: (v: string | null) => (v === null ? 0 : Number(v)) };

@Entity({ name: 'tasks' })
export class TaskEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('text') tenant_id: string;
  @Column('text') agent_name: string;
  @Column('uuid', { nullable: true }) agent_id: string | null;
  @Column('integer', { nullable: true }) agent_version: number | null;
  @Column('text') instruction: string;
  @Column('jsonb', { nullable: true }) instruction_content: unknown[] | null;
  @Column('text') status: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  @Column('real') progress: number;
  @Column('text', { nullable: true }) result: string | null;
  @Column('text', { nullable: true }) error: string | null;
  @Column('bigint', { transformer: numeric }) input_tokens: number;
  @Column('bigint', { transformer: numeric }) output_tokens: number;
  @Column('numeric', { transformer: numeric }) cost_usd: number;
  @Column('integer') attempts: number;
  @Column('text', { nullable: true }) webhook_url: string | null;
  @Column('jsonb') metadata: Record<string, unknown>;
  @Column('uuid') conversation_id: string;
  @Column('text') queue: string;
  @Column('text', { nullable: true }) request_id: string | null;
  @Column('timestamptz') created_at: Date;
  @Column('timestamptz', { nullable: true }) started_at: Date | null;
  @Column('timestamptz', { nullable: true }) finished_at: Date | null;
  @Column('timestamptz', { nullable: true }) cancel_requested_at: Date | null;
  @Column('uuid', { nullable: true }) run_id: string | null;
}
