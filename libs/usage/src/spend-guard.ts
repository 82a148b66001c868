// Budgets that cannot be overshot. Before each model call its worst case (input estimate at the dearest input
// price + max_tokens at the output price) is reserved against the conversation's cost ceiling and the tenant's
// daily budget in one atomic Redis script, and settled to the real cost afterwards. A reservation is granted
// only if spent + reserved + worst case fits, so parallel turns and tasks (on any instance) can never together
// spend past a limit: the call that would is not made.
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppConfig, BudgetExceededError, Clock, Metrics, RedisService } from '@lib/core';
import { LlmClient, PriceTable, worstCaseUsd } from '@lib/llm';

/** Amounts live in Redis as integers of 1e-8 USD (the database's precision), so sums never drift. */
const UNITS_PER_USD = 1e8;
const CONVERSATION_TTL_MS = 24 * 3_600_000;
const TENANT_DAY_TTL_MS = 48 * 3_600_000;
/** A reservation whose call never settled (its process died) stops counting after this long. */
const MIN_RESERVATION_TTL_MS = 15 * 60_000;

export interface SpendScope {
  tenantId: string;
  conversationId: string;
  /** The conversation's own ceiling; null or undefined: CONVERSATION_COST_LIMIT_USD. */
  conversationLimitUsd?: number | null;
  /** What the conversation has cost so far as stored; seeds Redis when it holds no sum for it. */
  conversationSpentUsd?: number;
}

/** What is known of a turn's first call before it starts. */
export interface FirstCall {
  model: string;
  maxTokens: number;
  /** The input estimate of the prompt, tools and message (0 when unknown). */
  inputTokens?: number;
}

export interface SpendReservation {
  readonly worstCaseUsd: number;
  /** Replaces the reservation by what the call really cost (0 for a call that failed unbilled). */
  settle(actualUsd: number): Promise<void>;
}

export type ReservationOutcome =
  | { granted: true; reservation: SpendReservation }
  | { granted: false; limit: 'conversation' | 'tenant'; limitUsd: number; committedUsd: number };

/** A call that must stay within no limit: nothing to reserve or settle. */
const UNLIMITED: SpendReservation = { worstCaseUsd: 0, settle: async () => undefined };

// KEYS: 1 conversation hash, 2 conversation reservation expiries (zset), 3 tenant-day hash, 4 its expiries.
// ARGV: 1 reservation id, 2 amount, 3 conversation ceiling (0: none), 4 conversation seed (-1: unknown),
//       5 tenant budget (0: none), 6 tenant seed (-1: unknown), 7 reservation ttl ms, 8 conversation ttl ms,
//       9 tenant ttl ms, 10 mode ("reserve" or "check").
// A hash holds `spent` and one `r:<id>` field per open reservation.
// Returns {1} granted (or fits), {0, scope, spent, reserved} refused, {-1, scope} seed needed (scope 1|2).
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[1]
local amount = tonumber(ARGV[2])
local scopes = {
  {hash = KEYS[1], expiries = KEYS[2], limit = tonumber(ARGV[3]), seed = tonumber(ARGV[4]), ttl = tonumber(ARGV[8])},
  {hash = KEYS[3], expiries = KEYS[4], limit = tonumber(ARGV[5]), seed = tonumber(ARGV[6]), ttl = tonumber(ARGV[9])},
}
for i, s in ipairs(scopes) do
  if s.limit > 0 then
    for _, gone in ipairs(redis.call('ZRANGEBYSCORE', s.expiries, '-inf', now)) do
      redis.call('HDEL', s.hash, 'r:' .. gone)
      redis.call('ZREM', s.expiries, gone)
    end
    local spent = tonumber(redis.call('HGET', s.hash, 'spent'))
    if not spent then
      if s.seed < 0 then return {-1, i} end
      spent = s.seed
      redis.call('HSET', s.hash, 'spent', spent)
    end
    local reserved = 0
    local fields = redis.call('HGETALL', s.hash)
    for f = 1, #fields, 2 do
      if string.sub(fields[f], 1, 2) == 'r:' then reserved = reserved + tonumber(fields[f + 1]) end
    end
    if spent + reserved + amount > s.limit then return {0, i, spent, reserved} end
  end
end
if ARGV[10] == 'reserve' then
  for _, s in ipairs(scopes) do
    if s.limit > 0 then
      redis.call('HSET', s.hash, 'r:' .. id, amount)
      redis.call('ZADD', s.expiries, now + tonumber(ARGV[7]), id)
    end
  end
end
for _, s in ipairs(scopes) do
  if s.limit > 0 then
    redis.call('PEXPIRE', s.hash, s.ttl)
    redis.call('PEXPIRE', s.expiries, s.ttl)
  end
end
return {1}
`;

// KEYS as above. ARGV: 1 reservation id, 2 real cost. The real cost joins `spent` where a sum is kept.
const SETTLE = `
for i = 1, 3, 2 do
  if redis.call('HDEL', KEYS[i], 'r:' .. ARGV[1]) == 1 then
    redis.call('ZREM', KEYS[i + 1], ARGV[1])
    if redis.call('HEXISTS', KEYS[i], 'spent') == 1 then redis.call('HINCRBY', KEYS[i], 'spent', ARGV[2]) end
  end
end
return 1
`;

export function toUnits(usd: number, round: 'up' | 'nearest' = 'nearest'): number {
  const units = usd * UNITS_PER_USD;
  return round === 'up' ? Math.ceil(units - 1e-6) : Math.round(units);
}

function toUsd(units: number): number {
  return units / UNITS_PER_USD;
}

@Injectable()
export class SpendGuard {
  private readonly logger = new Logger('Budgets');

  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly prices: PriceTable,
    private readonly llm: LlmClient,
    private readonly metrics: Metrics,
  ) {}

  /** The conversation's ceiling in USD (0: none). */
  conversationLimit(scope: Pick<SpendScope, 'conversationLimitUsd'>): number {
    return scope.conversationLimitUsd ?? this.config.conversationCostLimitUsd;
  }

  /** True when neither a conversation ceiling nor a tenant budget applies: nothing needs estimating. */
  isUnlimited(scope: Pick<SpendScope, 'conversationLimitUsd'>): boolean {
    return this.conversationLimit(scope) <= 0 && this.config.tenantDailyBudgetUsd <= 0;
  }

  /** The worst case of a call of this model with at least `inputTokens` of input and this max_tokens. */
  smallestCallUsd(call: FirstCall): number {
    return worstCaseUsd(
      this.prices.priceOf(this.llm.modelFor(call.model)).price,
      call.inputTokens ?? 0,
      call.maxTokens,
    );
  }

  /**
   * Before a turn or task starts: 402 budget_exceeded when the tenant's daily budget, or the conversation's
   * ceiling, has no room left for the turn's first call (at least its prompt, tools and message; a
   * conversation's history only adds to it).
   */
  async assertCanStart(
    scope: { tenantId: string; conversationId?: string } & Omit<Partial<SpendScope>, 'tenantId'>,
    call: FirstCall,
  ): Promise<void> {
    if (this.isUnlimited(scope.conversationId ? scope : { conversationLimitUsd: 0 })) return;
    const smallest = this.smallestCallUsd(call);
    // A turn that starts a conversation has no ceiling to check yet: only the tenant's budget applies.
    const outcome = await this.run(
      'check',
      scope.conversationId
        ? { ...scope, conversationId: scope.conversationId }
        : { ...scope, conversationId: 'none', conversationLimitUsd: 0 },
      smallest,
      'start',
    );
    if (outcome.granted) return;
    throw this.exceeded(outcome, scope.conversationId);
  }

  /** Reserves a call's worst case; `granted: false` means the call must not be made. */
  async reserve(scope: SpendScope, worstCaseUsd: number): Promise<ReservationOutcome> {
    return this.run('reserve', scope, worstCaseUsd, 'call');
  }

  private async run(
    mode: 'reserve' | 'check',
    scope: SpendScope,
    amountUsd: number,
    stage: 'start' | 'call',
  ): Promise<ReservationOutcome> {
    const conversationLimit = this.conversationLimit(scope);
    const tenantBudget = this.config.tenantDailyBudgetUsd;
    if (conversationLimit <= 0 && tenantBudget <= 0) return { granted: true, reservation: UNLIMITED };
    const id = randomUUID();
    const amount = toUnits(amountUsd, 'up');
    const day = this.clock.now().toISOString().slice(0, 10);
    const keys = [
      `spend:conversation:${scope.conversationId}`,
      `spend:conversation:${scope.conversationId}:expiries`,
      `spend:tenant:${scope.tenantId}:${day}`,
      `spend:tenant:${scope.tenantId}:${day}:expiries`,
    ];
    const conversationSeed = toUnits(scope.conversationSpentUsd ?? 0);
    let tenantSeed = -1;
    for (let round = 0; ; round += 1) {
      const reply = (await this.redis.client.eval(
        RESERVE,
        keys.length,
        ...keys,
        id,
        amount,
        conversationLimit > 0 ? toUnits(conversationLimit) : 0,
        conversationSeed,
        tenantBudget > 0 ? toUnits(tenantBudget) : 0,
        tenantSeed,
        this.reservationTtlMs(),
        CONVERSATION_TTL_MS,
        TENANT_DAY_TTL_MS,
        mode,
      )) as number[];
      if (reply[0] === 1) {
        if (mode === 'check') return { granted: true, reservation: UNLIMITED };
        return {
          granted: true,
          reservation: {
            worstCaseUsd: toUsd(amount),
            settle: (actualUsd) => this.settle(keys, id, actualUsd, toUsd(amount)),
          },
        };
      }
      if (reply[0] === -1 && round < 2) {
        // Redis holds no sum for this scope (first call of the day, or it expired): seed it from PostgreSQL.
        tenantSeed = toUnits(await this.tenantSpentToday(scope.tenantId, day));
        continue;
      }
      const limit = reply[1] === 1 ? 'conversation' : 'tenant';
      this.metrics
        .counter('budget_refusals_total', 'Model calls and turns refused by a cost budget.', [
          'limit',
          'stage',
        ])
        .inc({ limit, stage });
      return {
        granted: false,
        limit,
        limitUsd: limit === 'conversation' ? conversationLimit : tenantBudget,
        committedUsd: toUsd((reply[2] ?? 0) + (reply[3] ?? 0)),
      };
    }
  }

  private async settle(keys: string[], id: string, actualUsd: number, reservedUsd: number): Promise<void> {
    if (actualUsd > reservedUsd) {
      // Only an input estimate far below the real count can do this: say so, the sums stay exact.
      this.logger.warn(
        `A model call cost ${actualUsd} USD, more than the ${reservedUsd} USD reserved for it: the input estimate was low.`,
      );
    }
    await this.redis.client.eval(SETTLE, keys.length, ...keys, id, toUnits(actualUsd));
  }

  private async tenantSpentToday(tenantId: string, day: string): Promise<number> {
    const rows: Array<{ spent: string | null }> = await this.dataSource.query(
      `SELECT sum(cost_usd) AS spent FROM llm_calls
       WHERE tenant_id = $1 AND created_at >= $2::date AND created_at < $2::date + 1`,
      [tenantId, day],
    );
    return Number(rows[0]?.spent ?? 0);
  }

  /** Long enough for any call to finish (its waits, retries and streaming), so a live one never loses it. */
  private reservationTtlMs(): number {
    const c = this.config;
    const perAttempt = (c.llmTimeoutMs ?? 120_000) * 2 + (c.llmRetryMaxDelayMs ?? 8_000);
    return Math.max(
      MIN_RESERVATION_TTL_MS,
      (c.llmRateLimitMaxWaitMs ?? 0) + ((c.llmMaxRetries ?? 0) + 1) * perAttempt,
    );
  }

  private exceeded(
    outcome: Extract<ReservationOutcome, { granted: false }>,
    conversationId: string | undefined,
  ): BudgetExceededError {
    if (outcome.limit === 'tenant') {
      const now = this.clock.now();
      const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
      return new BudgetExceededError(
        `The daily budget of ${outcome.limitUsd} USD for this tenant is spent; it renews at 00:00 UTC.`,
        Math.ceil((midnight - now.getTime()) / 1000),
      );
    }
    return new BudgetExceededError(
      `Conversation ${conversationId} has reached its cost ceiling of ${outcome.limitUsd} USD; start a new conversation.`,
    );
  }
}
