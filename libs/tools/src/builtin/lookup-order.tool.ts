// An order's status, items, shipment and delivery estimate, by the number the customer gives.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Tool, ToolContext, ToolError } from '../tool';
import { DemoStore } from './demo-store';
import { LOOKUP_ORDER } from './tool-names';

export type LookupOrderInput = { order_number: string };

export type OrderStatus = 'placed' | 'processing' | 'shipped' | 'delivered' | 'cancelled' | 'refunded';

export interface OrderItem {
  sku: string;
  name: string;
  quantity: number;
  unit_price_usd: number;
}

export interface OrderDetails {
  order_number: string;
  status: OrderStatus;
  /** One sentence on what the status means for the customer. */
  status_description: string;
  customer_email: string;
  items: OrderItem[];
  total_usd: number;
  carrier: string | null;
  tracking_number: string | null;
  /** ISO 8601 timestamps, UTC. */
  placed_at: string;
  shipped_at: string | null;
  /** `YYYY-MM-DD`, or null when there is no delivery to expect. */
  estimated_delivery: string | null;
}

const STATUS_DESCRIPTIONS: Record<OrderStatus, string> = {
  placed: 'The order was received and is waiting to be prepared.',
  processing: 'The order is being prepared in the warehouse and has not shipped yet.',
  shipped: 'The order was handed to the carrier and is on its way.',
  delivered: 'The carrier reported the order as delivered.',
  cancelled: 'The order was cancelled before shipping; any payment is refunded automatically.',
  refunded: 'The order was returned or cancelled and its payment was refunded.',
};

interface OrderRow {
  order_number: string;
  status: OrderStatus;
  customer_email: string;
  items: OrderItem[];
  total_usd: string;
  carrier: string | null;
  tracking_number: string | null;
  placed_at: Date;
  shipped_at: Date | null;
  estimated_delivery: string | null;
}

@Injectable()
export class LookupOrderTool implements Tool<LookupOrderInput> {
  readonly name = LOOKUP_ORDER;
  readonly description =
    "Looks up one order by its order number. Use it whenever a customer asks about an order's status, " +
    'contents, shipping, tracking or delivery date; never guess these. Returns JSON {order_number, status, ' +
    'status_description, customer_email, items: [{sku, name, quantity, unit_price_usd}], total_usd, carrier, ' +
    'tracking_number, placed_at, shipped_at, estimated_delivery}; status is one of placed, processing, shipped, ' +
    'delivered, cancelled, refunded; carrier, tracking and dates are null until they exist. An unknown number ' +
    'is reported as an error: ask the customer to check it.';
  readonly inputSchema = {
    type: 'object',
    properties: {
      order_number: {
        type: 'string',
        pattern: '^#?\\d{3,12}$',
        description:
          'The order number as the customer gives it: 3 to 12 digits, with or without "#", e.g. "1001" or "#1001".',
      },
    },
    required: ['order_number'],
    additionalProperties: false,
  };

  constructor(
    private readonly dataSource: DataSource,
    private readonly demo: DemoStore,
  ) {}

  async execute(input: LookupOrderInput, context: ToolContext): Promise<OrderDetails> {
    const orderNumber = input.order_number.replace(/^#/, '');
    await this.demo.ensureTenant(context.tenantId);
    // Only the caller's tenant's orders: another tenant's number is unknown here, like a number never given.
    const rows = await this.dataSource.query<OrderRow[]>(
      `SELECT order_number, status, customer_email, items, total_usd, carrier, tracking_number,
              placed_at, shipped_at, estimated_delivery::text AS estimated_delivery
         FROM orders
        WHERE tenant_id = $1 AND order_number = $2`,
      [context.tenantId, orderNumber],
    );
    const row = rows[0];
    if (!row) {
      throw new ToolError(
        `No order with number ${orderNumber}. Ask the customer to check the number on their confirmation email.`,
      );
    }
    return {
      order_number: row.order_number,
      status: row.status,
      status_description: STATUS_DESCRIPTIONS[row.status],
      customer_email: row.customer_email,
      items: row.items,
      total_usd: Number(row.total_usd),
      carrier: row.carrier,
      tracking_number: row.tracking_number,
      placed_at: row.placed_at.toISOString(),
      shipped_at: row.shipped_at ? row.shipped_at.toISOString() : null,
      estimated_delivery: row.estimated_delivery,
    };
  }
}
