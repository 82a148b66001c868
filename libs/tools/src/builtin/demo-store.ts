// The demo store's tenant scope: every tenant reads its own copy of the demo knowledge base, catalogue, plans and
// orders, made from the template rows the first time one of its tool calls needs them.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DEMO_TEMPLATE_TENANT } from '@lib/core';

// One statement: the claim in demo_data_tenants and the copies commit together, and a tenant that was already
// claimed (by this or another instance, or by an operator who wants it without demo data) copies nothing.
const COPY_TEMPLATE = `
  WITH claim AS (
    INSERT INTO demo_data_tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING tenant_id
  ), articles AS (
    INSERT INTO kb_articles (tenant_id, slug, title, body, tags, updated_at)
    SELECT claim.tenant_id, slug, title, body, tags, updated_at
      FROM kb_articles, claim WHERE kb_articles.tenant_id = $2 ORDER BY kb_articles.id
  ), products AS (
    INSERT INTO products (tenant_id, sku, name, description, category, price_usd, active)
    SELECT claim.tenant_id, sku, name, description, category, price_usd, active
      FROM products, claim WHERE products.tenant_id = $2 ORDER BY products.id
  ), plans AS (
    INSERT INTO pricing_plans (tenant_id, plan_code, name, monthly_price_usd, annual_price_usd, seats_included,
      max_seats, extra_seat_monthly_usd, extra_seat_annual_usd, features, sort_order)
    SELECT claim.tenant_id, plan_code, name, monthly_price_usd, annual_price_usd, seats_included, max_seats,
           extra_seat_monthly_usd, extra_seat_annual_usd, features, sort_order
      FROM pricing_plans, claim WHERE pricing_plans.tenant_id = $2 ORDER BY pricing_plans.id
  ), orders AS (
    INSERT INTO orders (tenant_id, order_number, customer_email, status, items, total_usd, carrier,
      tracking_number, placed_at, shipped_at, estimated_delivery)
    SELECT claim.tenant_id, order_number, customer_email, status, items, total_usd, carrier, tracking_number,
           placed_at, shipped_at, estimated_delivery
      FROM orders, claim WHERE orders.tenant_id = $2 ORDER BY orders.id
  )
  SELECT count(*)::int AS claimed FROM claim`;

/** Tenants known to have their copy, so a process asks PostgreSQL once per tenant; bounded. */
const MAX_REMEMBERED = 10_000;

@Injectable()
export class DemoStore {
  private readonly ready = new Set<string>();

  constructor(private readonly dataSource: DataSource) {}

  /** Makes sure the tenant has its own copy of the demo data (made once per tenant, ever). */
  async ensureTenant(tenantId: string): Promise<void> {
    if (this.ready.has(tenantId)) return;
    await this.dataSource.query(COPY_TEMPLATE, [tenantId, DEMO_TEMPLATE_TENANT]);
    if (this.ready.size >= MAX_REMEMBERED) this.ready.clear();
    this.ready.add(tenantId);
  }
}
