// What stands in for older parts of a conversation in the requests sent to the model: its summaries (each covering
// a range of stored messages) and the position before which old tool results are sent as a placeholder. The stored
// messages themselves are never changed; these records only shape what is sent.
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { IdGenerator } from '@lib/core';
import type { ConversationSummaryEntity } from './entities';
import type { ConversationSummary } from './records';

function toSummary(row: ConversationSummaryEntity): ConversationSummary {
  return {
    id: row.id,
    conversationId: row.conversation_id,
    firstSeq: row.first_seq,
    lastSeq: row.last_seq,
    text: row.text,
    model: row.model,
    tokens: row.tokens,
    createdAt: new Date(row.created_at),
  };
}

@Injectable()
export class ConversationContextStore {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ids: IdGenerator,
  ) {}

  /** The summary reaching furthest into the conversation, or null; none for a conversation of another tenant. */
  async latestSummary(tenantId: string, conversationId: string): Promise<ConversationSummary | null> {
    const rows: ConversationSummaryEntity[] = await this.dataSource.query(
      `SELECT * FROM conversation_summaries WHERE conversation_id = $1 AND tenant_id = $2
       ORDER BY last_seq DESC, created_at DESC LIMIT 1`,
      [conversationId, tenantId],
    );
    return rows.length ? toSummary(rows[0]) : null;
  }

  /** How the conversation's older part is sent: its latest summary and its tool-result clearing position. */
  async state(
    tenantId: string,
    conversationId: string,
  ): Promise<{ summary: ConversationSummary | null; toolResultsClearedBefore: number }> {
    const [summary, rows] = await Promise.all([
      this.latestSummary(tenantId, conversationId),
      this.dataSource.query(
        `SELECT tool_results_cleared_before FROM conversations WHERE id = $1 AND tenant_id = $2`,
        [conversationId, tenantId],
      ) as Promise<Array<{ tool_results_cleared_before: number }>>,
    ]);
    return { summary, toolResultsClearedBefore: rows[0]?.tool_results_cleared_before ?? 0 };
  }

  /** Every summary of the conversation, oldest first. */
  async summaries(tenantId: string, conversationId: string): Promise<ConversationSummary[]> {
    const rows: ConversationSummaryEntity[] = await this.dataSource.query(
      `SELECT * FROM conversation_summaries WHERE conversation_id = $1 AND tenant_id = $2
       ORDER BY last_seq, created_at`,
      [conversationId, tenantId],
    );
    return rows.map(toSummary);
  }

  async saveSummary(
    tenantId: string,
    summary: Omit<ConversationSummary, 'id' | 'createdAt'>,
  ): Promise<ConversationSummary> {
    const rows: ConversationSummaryEntity[] = await this.dataSource.query(
      `INSERT INTO conversation_summaries (id, conversation_id, tenant_id, first_seq, last_seq, text, model, tokens)
       SELECT $1, c.id, c.tenant_id, $3, $4, $5, $6, $7 FROM conversations c WHERE c.id = $2 AND c.tenant_id = $8
       RETURNING *`,
      [
        this.ids.uuid(),
        summary.conversationId,
        summary.firstSeq,
        summary.lastSeq,
        summary.text,
        summary.model,
        summary.tokens,
        tenantId,
      ],
    );
    // The conversation was deleted while the summary was written: it is simply not kept.
    return rows.length ? toSummary(rows[0]) : { ...summary, id: '', createdAt: new Date() };
  }

  /** Tool results before `position` are sent as a placeholder from now on (the position only moves forward). */
  async clearToolResultsBefore(tenantId: string, conversationId: string, position: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE conversations SET tool_results_cleared_before = GREATEST(tool_results_cleared_before, $3)
       WHERE id = $1 AND tenant_id = $2`,
      [conversationId, tenantId, position],
    );
  }
}
