// The subscription plans, and a quote for a number of seats computed here rather than by the model.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Tool, ToolContext, ToolError } from '../tool';
import { DemoStore } from './demo-store';
import { GET_PRICING } from './tool-names';

export type Billing = 'monthly' | 'annual';

export type GetPricingInput = { plan?: string; seats?: number; billing?: Billing };

export interface PlanQuote {
  seats: number;
  billing: Billing;
  /** Whether the plan allows that many seats; when not, the prices are left out. */
  available: boolean;
  reason?: string;
  base_price_usd?: number;
  extra_seats?: number;
  extra_seat_price_usd?: number;
  extra_seats_cost_usd?: number;
  /** What the customer pays per period (a month, or a year when billed annually). */
  total_usd?: number;
  period?: 'month' | 'year';
}

export interface PricingPlan {
  plan: string;
  name: string;
  monthly_price_usd: number;
  annual_price_usd: number;
  seats_included: number;
  max_seats: number | null;
  extra_seat_monthly_usd: number;
  extra_seat_annual_usd: number;
  features: string[];
  quote?: PlanQuote;
}

export interface PricingResult {
  currency: 'USD';
  plans: PricingPlan[];
  /** With seats: the plan code of the cheapest plan that allows that many seats. */
  cheapest_plan_for_seats?: string | null;
}

interface PlanRow {
  plan_code: string;
  name: string;
  monthly_price_usd: string;
  annual_price_usd: string;
  seats_included: number;
  max_seats: number | null;
  extra_seat_monthly_usd: string;
  extra_seat_annual_usd: string;
  features: string[];
}

@Injectable()
export class GetPricingTool implements Tool<GetPricingInput> {
  readonly name = GET_PRICING;
  readonly description =
    'Returns the subscription plans (prices in USD, seats included, maximum seats, extra-seat prices, ' +
    'features) and, when given a number of seats, the exact price for that many seats. Use it for every ' +
    'question about plans, plan prices or a quote, and quote its numbers rather than computing your own. ' +
    'Returns JSON {currency, plans: [{plan, name, monthly_price_usd, annual_price_usd, seats_included, ' +
    'max_seats, extra_seat_monthly_usd, extra_seat_annual_usd, features, quote?}], cheapest_plan_for_seats?}. ' +
    'quote is {seats, billing, available, reason?, base_price_usd, extra_seats, extra_seat_price_usd, ' +
    'extra_seats_cost_usd, total_usd, period}: total_usd is per month for monthly billing and per year for ' +
    'annual billing; available is false when the plan cannot have that many seats.';
  readonly inputSchema = {
    type: 'object',
    properties: {
      plan: {
        type: 'string',
        minLength: 1,
        maxLength: 50,
        description: 'A plan code or name (case-insensitive), e.g. "team"; omit it to get every plan.',
      },
      seats: {
        type: 'integer',
        minimum: 1,
        maximum: 100000,
        description:
          'The number of users to price; seats beyond those a plan includes are charged as extra seats.',
      },
      billing: {
        type: 'string',
        enum: ['monthly', 'annual'],
        description:
          'How the quote is billed: "monthly" (the default) or "annual" (paid yearly, about two months cheaper).',
      },
    },
    additionalProperties: false,
  };

  constructor(
    private readonly dataSource: DataSource,
    private readonly demo: DemoStore,
  ) {}

  async execute(input: GetPricingInput, context: ToolContext): Promise<PricingResult> {
    await this.demo.ensureTenant(context.tenantId);
    const rows = await this.dataSource.query<PlanRow[]>(
      `SELECT plan_code, name, monthly_price_usd, annual_price_usd, seats_included, max_seats,
              extra_seat_monthly_usd, extra_seat_annual_usd, features
         FROM pricing_plans
        WHERE tenant_id = $1
        ORDER BY sort_order, plan_code`,
      [context.tenantId],
    );
    let selected = rows;
    if (input.plan !== undefined) {
      const wanted = input.plan.trim().toLowerCase();
      selected = rows.filter((row) => row.plan_code === wanted || row.name.toLowerCase() === wanted);
      if (!selected.length) {
        throw new ToolError(
          `No plan named "${input.plan}". Available plans: ${rows.map((row) => row.plan_code).join(', ')}.`,
        );
      }
    }
    const billing = input.billing ?? 'monthly';
    const plans = selected.map((row) => toPlan(row, input.seats, billing));
    if (input.seats === undefined) return { currency: 'USD', plans };

    const cheapest = plans
      .filter((plan) => plan.quote?.available)
      .sort((a, b) => a.quote!.total_usd! - b.quote!.total_usd!)[0];
    return { currency: 'USD', plans, cheapest_plan_for_seats: cheapest ? cheapest.plan : null };
  }
}

function toPlan(row: PlanRow, seats: number | undefined, billing: Billing): PricingPlan {
  const plan: PricingPlan = {
    plan: row.plan_code,
    name: row.name,
    monthly_price_usd: Number(row.monthly_price_usd),
    annual_price_usd: Number(row.annual_price_usd),
    seats_included: row.seats_included,
    max_seats: row.max_seats,
    extra_seat_monthly_usd: Number(row.extra_seat_monthly_usd),
    extra_seat_annual_usd: Number(row.extra_seat_annual_usd),
    features: row.features,
  };
  if (seats !== undefined) plan.quote = quote(row, seats, billing);
  return plan;
}

/** Prices are summed in whole cents: 0.1 + 0.2 must not end up on a quote. */
function quote(row: PlanRow, seats: number, billing: Billing): PlanQuote {
  if (row.max_seats !== null && seats > row.max_seats) {
    return {
      seats,
      billing,
      available: false,
      reason: `The ${row.name} plan allows at most ${row.max_seats} seats.`,
    };
  }
  const annual = billing === 'annual';
  const baseCents = toCents(annual ? row.annual_price_usd : row.monthly_price_usd);
  const seatCents = toCents(annual ? row.extra_seat_annual_usd : row.extra_seat_monthly_usd);
  const extraSeats = Math.max(0, seats - row.seats_included);
  return {
    seats,
    billing,
    available: true,
    base_price_usd: baseCents / 100,
    extra_seats: extraSeats,
    extra_seat_price_usd: seatCents / 100,
    extra_seats_cost_usd: (extraSeats * seatCents) / 100,
    total_usd: (baseCents + extraSeats * seatCents) / 100,
    period: annual ? 'year' : 'month',
  };
}

function toCents(numeric: string): number {
  return Math.round(Number(numeric) * 100);
}
