// Cost anomalies: after each stored turn, a conversation whose cost passes ANOMALY_COST_MULTIPLE × its agent's
// recent median (for that tenant), or ANOMALY_COST_USD, raises a warning log, a metric and a signed alert POST —
// once per conversation and threshold (a unique row in cost_anomalies decides, across every instance). The alert is
// staged in the webhook outbox in the transaction that records the anomaly, so it is never lost.
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig, IdGenerator, Metrics } from '@lib/core';
import { CostAlertSender } from './cost-alert-sender';

export interface ConversationCost {
  tenantId: string;
  conversationId: string;
  agentName: string;
  costUsd: number;
}

export type AnomalyThreshold = 'multiple' | 'absolute';

export interface CostAnomaly {
  id: string;
  threshold: AnomalyThreshold;
  costUsd: number;
  limitUsd: number;
  baselineMedianUsd: number | null;
}

/** How long an established baseline (ANOMALY_MIN_BASELINE conversations or more) is reused. */
const BASELINE_REUSE_MS = 10_000;
/** Baselines kept at once (tenants × agents); past it the memory starts over. */
const MAX_KEPT_BASELINES = 10_000;

@Injectable()
export class CostAnomalies {
  private readonly logger = new Logger('CostAnomalies');
  private readonly baselines = new Map<
    string,
    { at: number; baseline: { median: number; conversations: number } }
  >();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly ids: IdGenerator,
    private readonly metrics: Metrics,
    private readonly alerts: CostAlertSender,
  ) {}

  /** Checks a conversation after a turn was stored; answers the anomalies raised now (each only once). */
  async check(conversation: ConversationCost): Promise<CostAnomaly[]> {
    const { anomalyCostMultiple: multiple, anomalyCostUsd: absolute } = this.config;
    if (conversation.costUsd <= 0 || (multiple <= 0 && absolute <= 0)) return [];
    const found: Array<Omit<CostAnomaly, 'id'>> = [];
    if (absolute > 0 && conversation.costUsd > absolute) {
      found.push({
        threshold: 'absolute',
        costUsd: conversation.costUsd,
        limitUsd: absolute,
        baselineMedianUsd: null,
      });
    }
    if (multiple > 0) {
      const baseline = await this.baseline(conversation);
      if (baseline && baseline.conversations >= this.config.anomalyMinBaseline && baseline.median > 0) {
        const limit = baseline.median * multiple;
        if (conversation.costUsd > limit) {
          found.push({
            threshold: 'multiple',
            costUsd: conversation.costUsd,
            limitUsd: Math.round(limit * 1e8) / 1e8,
            baselineMedianUsd: baseline.median,
          });
        }
      }
    }
    const raised: CostAnomaly[] = [];
    for (const anomaly of found) {
      const recorded = await this.record(conversation, anomaly);
      if (recorded) raised.push(recorded);
    }
    for (const anomaly of raised) await this.announce(conversation, anomaly);
    return raised;
  }

  /**
   * The median cost of the agent's most recent other conversations of the tenant. Once the agent has enough of
   * them to be judged, the figure is kept for BASELINE_REUSE_MS per tenant and agent: a median of dozens of
   * conversations moves slowly, and reading it after every turn would put one more query on each of them.
   */
  private async baseline(
    conversation: ConversationCost,
  ): Promise<{ median: number; conversations: number } | null> {
    const key = `${conversation.tenantId}\u0000${conversation.agentName}`;
    const kept = this.baselines.get(key);
    const now = performance.now();
    if (kept && now - kept.at < BASELINE_REUSE_MS) return kept.baseline;
    const baseline = await this.readBaseline(conversation);
    if (baseline && baseline.conversations >= this.config.anomalyMinBaseline) {
      if (this.baselines.size >= MAX_KEPT_BASELINES) this.baselines.clear();
      this.baselines.set(key, { at: now, baseline });
    } else {
      this.baselines.delete(key);
    }
    return baseline;
  }

  private async readBaseline(
    conversation: ConversationCost,
  ): Promise<{ median: number; conversations: number } | null> {
    const rows: Array<{ median: string | null; conversations: number }> = await this.dataSource.query(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY cost_usd) AS median, count(*)::int AS conversations
       FROM (SELECT cost_usd FROM conversations
             WHERE tenant_id = $1 AND agent_name = $2 AND id <> $3 AND message_count > 0
             ORDER BY last_activity_at DESC LIMIT $4) recent`,
      [
        conversation.tenantId,
        conversation.agentName,
        conversation.conversationId,
        this.config.anomalyBaselineConversations,
      ],
    );
    const row = rows[0];
    return row?.median === null || row === undefined
      ? null
      : { median: Number(row.median), conversations: row.conversations };
  }

  private async record(
    conversation: ConversationCost,
    anomaly: Omit<CostAnomaly, 'id'>,
  ): Promise<CostAnomaly | null> {
    const id = this.ids.uuid();
    const recorded = { id, ...anomaly };
    const inserted = await this.dataSource.transaction(async (db) => {
      const rows: unknown[] = await db.query(
        `INSERT INTO cost_anomalies (id, tenant_id, conversation_id, agent_name, threshold, cost_usd, limit_usd,
         baseline_median_usd)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (conversation_id, threshold) DO NOTHING RETURNING 1`,
        [
          id,
          conversation.tenantId,
          conversation.conversationId,
          conversation.agentName,
          anomaly.threshold,
          anomaly.costUsd,
          anomaly.limitUsd,
          anomaly.baselineMedianUsd,
        ],
      );
      if (rows.length && this.alerts.enabled) {
        await this.alerts.stage(db, id, conversation.tenantId, this.alertOf(conversation, recorded));
      }
      return rows.length > 0;
    });
    return inserted ? recorded : null;
  }

  private fieldsOf(conversation: ConversationCost, anomaly: CostAnomaly) {
    return {
      tenant_id: conversation.tenantId,
      conversation_id: conversation.conversationId,
      agent_name: conversation.agentName,
      threshold: anomaly.threshold,
      cost_usd: anomaly.costUsd,
      limit_usd: anomaly.limitUsd,
    };
  }

  private alertOf(conversation: ConversationCost, anomaly: CostAnomaly): Record<string, unknown> {
    return {
      event: 'cost.anomaly',
      anomaly: {
        id: anomaly.id,
        ...this.fieldsOf(conversation, anomaly),
        baseline_median_usd: anomaly.baselineMedianUsd,
        multiple: anomaly.threshold === 'multiple' ? this.config.anomalyCostMultiple : null,
      },
    };
  }

  private async announce(conversation: ConversationCost, anomaly: CostAnomaly): Promise<void> {
    const because =
      anomaly.threshold === 'multiple'
        ? `${this.config.anomalyCostMultiple}× the agent's recent median of ${anomaly.baselineMedianUsd} USD`
        : `the absolute threshold`;
    const fields = this.fieldsOf(conversation, anomaly);
    this.logger.warn(
      fields,
      `Cost anomaly: conversation ${conversation.conversationId} (agent ${conversation.agentName}) has cost ${anomaly.costUsd} USD, past ${anomaly.limitUsd} USD (${because}).`,
    );
    this.metrics
      .counter('cost_anomalies_total', 'Conversations whose cost passed an anomaly threshold.', [
        'threshold',
        'agent',
      ])
      .inc({ threshold: anomaly.threshold, agent: conversation.agentName });
    if (this.alerts.enabled) await this.alerts.dispatch(anomaly.id);
  }
}
