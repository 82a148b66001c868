// How the offline demo model puts a tool's result into words: every fact in an answer comes from the result's JSON.
import type { ToolResultBlock, ToolUseBlock } from './content';

/** One tool call of the current turn and what it returned. */
export interface ToolStep {
  use: ToolUseBlock;
  result: ToolResultBlock;
}

type Json = Record<string, unknown>;
type Renderer = (value: Json, input: Json) => string | undefined;

/**
 * The answer for one tool result. A result of the shape its tool documents is told in sentences; any other
 * shape (another tool, a changed tool) falls back to a generic listing of its fields, so nothing is hidden.
 */
export function describeStep(step: ToolStep | { use: undefined; result: ToolResultBlock }): string {
  const { use, result } = step;
  if (result.is_error) return describeError(result, use);
  const value = parseJson(result.content);
  const input = use?.input ?? {};
  const render = use ? RENDERERS[use.name] : undefined;
  const told = render && isRecord(value) ? render(value, input) : undefined;
  if (told !== undefined) return told;
  return `Here is what ${use ? `the ${use.name} tool` : 'the tool'} returned:\n${formatValue(value)}`;
}

export function describeError(result: ToolResultBlock, use: ToolUseBlock | undefined): string {
  const tool = use ? `the ${use.name} tool` : 'the tool';
  const reason = clip(result.content.trim().replace(/[.!\s]+$/, ''), 300) || 'it gave no details';
  return `Sorry, ${tool} reported an error: ${reason}. Please check your request and try again.`;
}

const RENDERERS: Record<string, Renderer> = {
  lookup_order: describeOrder,
  create_support_ticket: describeTicket,
  search_knowledge_base: describeArticles,
  calculator: describeCalculation,
  get_current_time: describeTime,
  get_pricing: describePricing,
  get_product_catalog: describeCatalog,
};

function describeOrder(order: Json): string | undefined {
  if (!isString(order.order_number) || !isString(order.status)) return undefined;
  const lines = [
    `Order ${order.order_number} is ${order.status}` +
      (isString(order.status_description) ? `: ${order.status_description}` : '.'),
  ];
  if (Array.isArray(order.items) && order.items.length) {
    lines.push(`- Items: ${order.items.map(describeOrderItem).join(', ')}`);
  }
  if (isNumber(order.total_usd)) lines.push(`- Total: ${usd(order.total_usd)}`);
  if (isString(order.carrier)) {
    const tracking = isString(order.tracking_number) ? `, tracking number ${order.tracking_number}` : '';
    lines.push(`- Carrier: ${order.carrier}${tracking}`);
  }
  if (isString(order.placed_at)) lines.push(`- Placed on ${order.placed_at.slice(0, 10)}`);
  if (isString(order.shipped_at)) lines.push(`- Shipped on ${order.shipped_at.slice(0, 10)}`);
  if (isString(order.estimated_delivery)) lines.push(`- Estimated delivery: ${order.estimated_delivery}`);
  return lines.join('\n');
}

function describeOrderItem(item: unknown): string {
  if (!isRecord(item) || !isString(item.name)) return inline(item);
  const quantity = isNumber(item.quantity) ? `${item.quantity} × ` : '';
  const price = isNumber(item.unit_price_usd) ? ` (${usd(item.unit_price_usd)} each)` : '';
  return `${quantity}${item.name}${price}`;
}

function describeTicket(ticket: Json): string | undefined {
  if (!isString(ticket.ticket_number)) return undefined;
  const details = [
    isString(ticket.priority) && `${ticket.priority} priority`,
    isString(ticket.status) && `status ${ticket.status}`,
  ].filter(isString);
  const about = isString(ticket.subject) ? `: "${ticket.subject}"` : '';
  const opened =
    ticket.created === false
      ? `This request had already opened support ticket ${ticket.ticket_number}`
      : `I opened support ticket ${ticket.ticket_number}`;
  const followUp = isString(ticket.customer_email)
    ? `A member of the support team will follow up by email at ${ticket.customer_email}.`
    : 'A member of the support team will follow up.';
  return `${opened}${details.length ? ` (${details.join(', ')})` : ''}${about}. ${followUp}`;
}

function describeArticles(search: Json, input: Json): string | undefined {
  if (!Array.isArray(search.results)) return undefined;
  const query = isString(search.query) ? search.query : isString(input.query) ? input.query : '';
  const [best, ...others] = search.results.filter(isRecord);
  if (!best) return `The knowledge base has no article about "${query}", so I cannot answer that from it.`;
  if (!isString(best.title) || !(isString(best.body) || isString(best.snippet))) return undefined;
  const intro =
    search.match === 'any_word'
      ? `No knowledge base article matches every word of "${query}"; the closest one is "${best.title}":`
      : `From the knowledge base article "${best.title}":`;
  const text = isString(best.body) ? best.body : best.snippet;
  const related = others.map((a) => a.title).filter(isString);
  const more = related.length ? `\n\nRelated articles: ${related.map((t) => `"${t}"`).join(', ')}.` : '';
  return `${intro}\n\n${text}${more}`;
}

function describeCalculation(calculation: Json, input: Json): string | undefined {
  const expression = isString(calculation.expression) ? calculation.expression : input.expression;
  if (!isString(expression) || !(isNumber(calculation.result) || isString(calculation.result)))
    return undefined;
  return `${expression} = ${calculation.result}.`;
}

function describeTime(time: Json): string | undefined {
  if (!isString(time.formatted) || !isString(time.timezone)) return undefined;
  const exact = isString(time.local_time) ? ` (${time.local_time})` : '';
  return `It is ${time.formatted} in ${time.timezone}${exact}.`;
}

function describePricing(pricing: Json, input: Json): string | undefined {
  if (!Array.isArray(pricing.plans)) return undefined;
  const plans = pricing.plans.filter(isRecord);
  if (!plans.length) return 'The pricing tool returned no plans.';
  if (!plans.every((p) => isString(p.name) && isNumber(p.monthly_price_usd))) return undefined;
  if (isNumber(input.seats)) return describeQuotes(plans, input.seats, pricing.cheapest_plan_for_seats);

  const lines = plans.map((plan) => {
    const prices =
      `${usd(plan.monthly_price_usd as number)}/month` +
      (isNumber(plan.annual_price_usd) ? ` or ${usd(plan.annual_price_usd)}/year` : '');
    const seats = [
      isNumber(plan.seats_included) &&
        `${plan.seats_included} seat${plan.seats_included === 1 ? '' : 's'} included`,
      isNumber(plan.max_seats) ? `up to ${plan.max_seats} seats` : plan.max_seats === null && 'no seat limit',
      isNumber(plan.extra_seat_monthly_usd) && `extra seats ${usd(plan.extra_seat_monthly_usd)}/month each`,
    ].filter(isString);
    const features = Array.isArray(plan.features) ? plan.features.filter(isString) : [];
    return (
      `- ${plan.name}: ${prices}` +
      (seats.length ? `; ${seats.join(', ')}` : '') +
      (features.length ? `. Features: ${features.join(', ')}.` : '.')
    );
  });
  const currency = isString(pricing.currency) ? ` (prices in ${pricing.currency})` : '';
  return `Here are our ${plans.length} plans side by side${currency}:\n${lines.join('\n')}`;
}

function describeQuotes(plans: Json[], seats: number, cheapestCode: unknown): string | undefined {
  const quoted = plans.filter((p) => isRecord(p.quote));
  if (!quoted.length) return undefined;
  const cheapest = quoted.find((p) => p.plan === cheapestCode);
  const lines = quoted.map((plan) => {
    const quote = plan.quote as Json;
    if (quote.available !== true) {
      return `- ${plan.name}: not available${isString(quote.reason) ? ` (${quote.reason})` : ''}`;
    }
    return `- ${plan.name}: ${quoteSentence(quote)}`;
  });
  const billing = (quoted[0].quote as Json).billing === 'annual' ? 'billed annually' : 'billed monthly';
  const headline = cheapest
    ? `For ${seats} seats, ${billing}, the cheapest plan is ${cheapest.name} at ` +
      `${quoteSentence(cheapest.quote as Json)}.`
    : `No plan allows ${seats} seats.`;
  return `${headline}\n${lines.join('\n')}`;
}

function quoteSentence(quote: Json): string {
  const period = isString(quote.period) ? `/${quote.period}` : '';
  const total = isNumber(quote.total_usd) ? `${usd(quote.total_usd)}${period}` : 'a price on request';
  if (!isNumber(quote.base_price_usd) || !isNumber(quote.extra_seats) || quote.extra_seats === 0) {
    return isNumber(quote.base_price_usd) ? `${total} (every seat included in the plan)` : total;
  }
  const each = isNumber(quote.extra_seat_price_usd) ? ` × ${usd(quote.extra_seat_price_usd)}` : '';
  const seatWord = quote.extra_seats === 1 ? 'extra seat' : 'extra seats';
  return `${total} (${usd(quote.base_price_usd)} base + ${quote.extra_seats} ${seatWord}${each})`;
}

function describeCatalog(catalog: Json, input: Json): string | undefined {
  if (!Array.isArray(catalog.products)) return undefined;
  const products = catalog.products.filter(isRecord);
  const categories = Array.isArray(catalog.categories) ? catalog.categories.filter(isString) : [];
  const filter = [
    isString(input.query) && `matching "${input.query}"`,
    isString(input.category) && `in the category "${input.category}"`,
  ].filter(isString);
  if (!products.length) {
    const onSale = categories.length ? ` The categories on sale are ${categories.join(', ')}.` : '';
    return `No product ${filter.join(' and ') || 'is on sale'} right now.${onSale}`;
  }
  if (!products.every((p) => isString(p.name) && isNumber(p.price_usd))) return undefined;

  const byCategory = new Map<string, Json[]>();
  for (const product of products) {
    const category = isString(product.category) ? product.category : 'other';
    byCategory.set(category, [...(byCategory.get(category) ?? []), product]);
  }
  const sections = [...byCategory].map(
    ([category, items]) =>
      `${category}:\n` +
      items
        .map(
          (p) =>
            `- ${p.name}${isString(p.sku) ? ` (${p.sku})` : ''}: ${usd(p.price_usd as number)}` +
            (isString(p.description) ? ` — ${p.description}` : ''),
        )
        .join('\n'),
  );
  const count = `${products.length} product${products.length === 1 ? '' : 's'}`;
  const headline = filter.length
    ? `I found ${count} ${filter.join(' and ')}:`
    : `We sell ${count} in ${byCategory.size} categor${byCategory.size === 1 ? 'y' : 'ies'}:`;
  return `${headline}\n\n${sections.join('\n\n')}`;
}

/** Renders a tool's JSON for a reader: fields as lines, lists as bullets, nothing nested deeper than a line. */
export function formatValue(value: unknown): string {
  if (Array.isArray(value)) {
    if (!value.length) return 'Nothing was found.';
    const shown = value.slice(0, 5).map((item) => `- ${summariseItem(item)}`);
    if (value.length > 5) shown.push(`…and ${value.length - 5} more.`);
    return shown.join('\n');
  }
  if (isRecord(value)) {
    const entries = Object.entries(value);
    // A wrapper such as {"results": [...]} reads better as the list itself.
    if (entries.length === 1 && Array.isArray(entries[0][1])) return formatValue(entries[0][1]);
    if (!entries.length) return 'No details were returned.';
    return entries
      .slice(0, 10)
      .map(([key, field]) => `- ${humanise(key)}: ${inline(field)}`)
      .join('\n');
  }
  return clip(inline(value), 600);
}

function summariseItem(item: unknown): string {
  if (!isRecord(item)) return inline(item);
  const title = ['title', 'name', 'question', 'id'].map((k) => item[k]).find(isString);
  const detail = ['snippet', 'summary', 'description', 'answer', 'content', 'body']
    .map((k) => item[k])
    .find(isString);
  if (title && detail) return `${title}: ${clip(detail, 200)}`;
  if (title || detail) return clip((title ?? detail) as string, 200);
  return inline(item);
}

function inline(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  if (typeof value === 'string') return clip(value, 200);
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value)) {
    if (!value.length) return 'none';
    return value.every((v) => !isRecord(v) && !Array.isArray(v))
      ? clip(value.map((v) => inline(v)).join(', '), 200)
      : `${value.length} item${value.length === 1 ? '' : 's'}`;
  }
  const scalars = Object.entries(value).filter(([, v]) => v === null || typeof v !== 'object');
  return (
    clip(scalars.map(([k, v]) => `${humanise(k).toLowerCase()} ${inline(v)}`).join(', '), 200) || 'details'
  );
}

function humanise(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const USD = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

function usd(amount: number): string {
  return USD.format(amount);
}

export function parseJson(content: string): unknown {
  try {
    return JSON.parse(content);
  } catch {
    return content;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
