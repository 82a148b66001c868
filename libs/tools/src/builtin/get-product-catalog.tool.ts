// The products on sale, optionally narrowed by category or by words in their name or description.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Tool, ToolContext } from '../tool';
import { DemoStore } from './demo-store';
import { GET_PRODUCT_CATALOG } from './tool-names';

export type GetProductCatalogInput = { category?: string; query?: string };

export interface CatalogProduct {
  sku: string;
  name: string;
  description: string;
  category: string;
  price_usd: number;
}

export interface CatalogResult {
  products: CatalogProduct[];
  count: number;
  /** Every category on sale, so a filter that found nothing can be corrected. */
  categories: string[];
}

interface ProductRow {
  sku: string;
  name: string;
  description: string;
  category: string;
  price_usd: string;
}

@Injectable()
export class GetProductCatalogTool implements Tool<GetProductCatalogInput> {
  readonly name = GET_PRODUCT_CATALOG;
  readonly description =
    'Lists the products currently on sale (hardware and software add-ons) with their prices in USD. Use it ' +
    'whenever a customer asks what is available, what a product costs or which product fits a need; never ' +
    'quote a product or price that it does not return. Filter by category, by words, or both; with neither it ' +
    'returns the whole catalogue. Returns JSON {products: [{sku, name, description, category, price_usd}], ' +
    'count, categories}; categories lists every category on sale, useful when a filter found nothing.';
  readonly inputSchema = {
    type: 'object',
    properties: {
      category: {
        type: 'string',
        minLength: 1,
        maxLength: 50,
        description:
          'Only products of this category (case-insensitive), e.g. "peripherals", "audio-video" or "add-ons".',
      },
      query: {
        type: 'string',
        minLength: 1,
        maxLength: 200,
        pattern: '\\S',
        description:
          'Words to look for in the product name, description or SKU, e.g. "keyboard" or "backup".',
      },
    },
    additionalProperties: false,
  };

  constructor(
    private readonly dataSource: DataSource,
    private readonly demo: DemoStore,
  ) {}

  async execute(input: GetProductCatalogInput, context: ToolContext): Promise<CatalogResult> {
    await this.demo.ensureTenant(context.tenantId);
    const category = input.category?.trim() || null;
    const query = input.query?.trim() || null;
    const rows = await this.dataSource.query<ProductRow[]>(
      `SELECT sku, name, description, category, price_usd
         FROM products
        WHERE tenant_id = $4 AND active
          AND ($1::text IS NULL OR lower(category) = lower($1))
          AND ($2::text IS NULL
               OR to_tsvector('english', name || ' ' || description) @@ plainto_tsquery('english', $2)
               OR name ILIKE $3 OR sku ILIKE $3)
        ORDER BY category, price_usd, sku`,
      [category, query, query === null ? null : `%${escapeLike(query)}%`, context.tenantId],
    );
    const categories = await this.dataSource.query<Array<{ category: string }>>(
      `SELECT DISTINCT category FROM products WHERE tenant_id = $1 AND active ORDER BY category`,
      [context.tenantId],
    );
    return {
      products: rows.map((row) => ({ ...row, price_usd: Number(row.price_usd) })),
      count: rows.length,
      categories: categories.map((row) => row.category),
    };
  }
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}
