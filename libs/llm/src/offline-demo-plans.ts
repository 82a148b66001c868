// What the offline demo model does with a question: a fixed plan of built-in tool calls, chosen by visible rules.
import { clip, describeError, isRecord, parseJson, ToolStep } from './offline-demo-answers';

export interface ToolCall {
  name: string;
  input: Record<string, unknown>;
  /** What the model says before the call, e.g. "Let me look up order 1001." */
  lead: string;
}

/**
 * A plan answers a question in one or more tool calls: `next` sees the calls this turn already made (with
 * their results) and returns the next call, or null when it is time to answer; `conclude` may replace the
 * default answer, which tells the last results one by one.
 */
export interface Plan {
  next(steps: ToolStep[]): ToolCall | null;
  conclude?(steps: ToolStep[]): string | undefined;
}

const ORDER_NUMBER = /\border\s*(?:number|no\.?|id)?\s*[:#]?\s*#?\s*(\d{3,})/i;
const HOW_TO = /\bhow\s+(?:(?:do|can|could|should|would)\s+(?:i|we|you|one)|to)\s+([^?.!\n]+)/i;
const EXPRESSION_CANDIDATE = /[\d(][\d\s.+\-*/×÷^%()]*[\d)]/g;
const OPERATOR_BETWEEN_NUMBERS = /\d\s*\)*\s*[-+*/×÷^%]\s*\(*\s*-?\d/;
const PERCENT_OF = /(\d+(?:\.\d+)?)\s*(?:%|percent)\s+of\s+\$?(\d[\d,]*(?:\.\d+)?)/i;
const TICKET_REQUEST =
  /\b(?:create|open|file|raise|submit|log|make)\b[^.?!:]*\bticket\b|\bticket\s*:|\b(?:talk|speak) to a human\b/i;
const TIME_QUESTION =
  /\bwhat(?:'s|\s+is)?\s+(?:the\s+)?(?:current\s+|local\s+)?(?:time|date|day)\b|\btime\s+is\s+it\b|\btoday'?s\s+date\b|\bcurrent\s+(?:time|date)\b|\bwhat\s+day\s+is\b/i;
const TIME_ZONE =
  /\b((?:Africa|America|Antarctica|Asia|Atlantic|Australia|Europe|Indian|Pacific)\/[A-Za-z_]+(?:\/[A-Za-z_]+)?|UTC)\b/;
const SEATS = /\b(\d{1,6})\s*(?:seats?|users?|people|members|licen[cs]es|employees)\b/i;
const PRICING_WORDS = /\b(?:plans?|pricing|subscriptions?|tiers?)\b/i;
const PRICE_WORDS = /\bhow\s+much\b|\bcosts?\b|\bprices?\b|\bquote\b/i;
const ANNUAL = /\b(?:annual(?:ly)?|yearly|per\s+year|a\s+year)\b/i;
const CATALOG_WORDS =
  /\b(?:products?|catalog(?:ue)?|sell|for\s+sale|on\s+sale|hardware|accessor(?:y|ies)|add-?ons?)\b/i;
const DO_YOU_SELL = /\bdo\s+you\s+(?:sell|have|offer|carry|stock)\s+(?:any\s+)?([\p{L}\d][\p{L}\d -]*)/iu;
const QUESTION_LIKE =
  /\?\s*$|^(?:what|how|why|when|where|who|which|can|could|do|does|did|is|are|should|will|would)\b|\bpolic(?:y|ies)\b|^(?:tell me about|explain|help with|info(?:rmation)? (?:on|about))\b/i;
const GENERIC_GOODS = new Set(['products', 'product', 'anything', 'things', 'stuff', 'items', 'goods']);
const STOP_WORDS = new Set(
  (
    'a an and are about any can could do does did for from have how i in is it its me my of on or our please ' +
    'should tell the to us we what when where which who why will with would you your yours explain info ' +
    'information help there their this that these those be been get got know want need hello hi hey thanks ' +
    'long much many take takes usually'
  ).split(' '),
);

/** The plan for a question, given the tools the agent offers; null when no rule applies. */
export function planFor(question: string, offered: Set<string>): Plan | null {
  const has = (tool: string) => offered.has(tool);

  const order = ORDER_NUMBER.exec(question)?.[1];
  if (TICKET_REQUEST.test(question) && has('create_support_ticket')) {
    return ticketPlan(question, has('lookup_order') ? order : undefined);
  }
  if (order && has('lookup_order')) {
    return single({
      name: 'lookup_order',
      input: { order_number: order },
      lead: `Let me look up order ${order}.`,
    });
  }
  if (has('calculator')) {
    const percent = PERCENT_OF.exec(question);
    if (percent) return percentPlan(percent[1], percent[2].replace(/,/g, ''));
    const expression = findExpression(question);
    if (expression) {
      return single({ name: 'calculator', input: { expression }, lead: `Let me calculate ${expression}.` });
    }
  }
  if (TIME_QUESTION.test(question) && has('get_current_time')) {
    const zone = TIME_ZONE.exec(question)?.[1];
    return single({
      name: 'get_current_time',
      input: zone ? { timezone: zone } : {},
      lead: `Let me check the current time${zone ? ` in ${zone}` : ''}.`,
    });
  }
  const howTo = HOW_TO.exec(question);
  if (howTo && has('search_knowledge_base')) return knowledgePlan(howTo[1].trim().replace(/\s+/g, ' '));

  const seats = SEATS.exec(question);
  if (PRICING_WORDS.test(question) || (seats && PRICE_WORDS.test(question))) {
    if (!has('get_pricing')) return null;
    const input: Record<string, unknown> = {};
    if (seats) input.seats = Number(seats[1]);
    if (ANNUAL.test(question)) input.billing = 'annual';
    const lead = seats
      ? `Let me price ${seats[1]} seats on each plan.`
      : 'Let me fetch our plans and their prices.';
    return single({ name: 'get_pricing', input, lead });
  }
  if (CATALOG_WORDS.test(question) && has('get_product_catalog')) {
    const wanted = DO_YOU_SELL.exec(question)?.[1].trim().replace(/\s+/g, ' ');
    const query = wanted && !GENERIC_GOODS.has(wanted.toLowerCase()) ? wanted : undefined;
    return single({
      name: 'get_product_catalog',
      input: query ? { query } : {},
      lead: query
        ? `Let me search the product catalogue for "${query}".`
        : 'Let me fetch the product catalogue.',
    });
  }
  if (QUESTION_LIKE.test(question.trim()) && has('search_knowledge_base')) {
    const query = contentWords(question);
    if (query) return knowledgePlan(query);
  }
  return null;
}

/** A pricing question the agent has no pricing tool for. */
export function isPricingQuestion(question: string): boolean {
  return PRICING_WORDS.test(question) || (SEATS.test(question) && PRICE_WORDS.test(question));
}

function single(call: ToolCall): Plan {
  return { next: (steps) => (steps.length ? null : call) };
}

function knowledgePlan(query: string): Plan {
  return single({
    name: 'search_knowledge_base',
    input: { query },
    lead: `Let me search the knowledge base for "${query}".`,
  });
}

function percentPlan(percent: string, of: string): Plan {
  const expression = `${percent} / 100 * ${of}`;
  return {
    next: (steps) =>
      steps.length
        ? null
        : { name: 'calculator', input: { expression }, lead: `Let me calculate ${percent}% of ${of}.` },
    conclude: (steps) => {
      const value = parseJson(steps[steps.length - 1].result.content);
      if (!isRecord(value) || typeof value.result !== 'number') return undefined;
      return `${percent}% of ${of} is ${value.result} (${expression} = ${value.result}).`;
    },
  };
}

/**
 * "Create a ticket: my order 1002 arrived broken": the order is looked up first (when the message names one),
 * so the ticket carries its facts and the customer's email; an order that cannot be found opens no ticket.
 */
function ticketPlan(question: string, orderNumber: string | undefined): Plan {
  const problem = question.includes(':') ? question.slice(question.indexOf(':') + 1).trim() : question.trim();
  const subject = clip(capitalise(problem.replace(/\s+/g, ' ')), 200);
  return {
    next: (steps) => {
      const lookup = steps.find((s) => s.use.name === 'lookup_order');
      if (orderNumber && !lookup) {
        return {
          name: 'lookup_order',
          input: { order_number: orderNumber },
          lead: `Let me look up order ${orderNumber} before I open a ticket.`,
        };
      }
      if (steps.some((s) => s.use.name === 'create_support_ticket') || lookup?.result.is_error) return null;
      const order = lookup ? parseJson(lookup.result.content) : undefined;
      const input: Record<string, unknown> = {
        subject: subject.length >= 3 ? subject : 'Support request',
        description: ticketDescription(question, order),
      };
      if (isRecord(order) && typeof order.customer_email === 'string')
        input.customer_email = order.customer_email;
      return {
        name: 'create_support_ticket',
        input,
        lead: 'I will open a support ticket with these details so that the support team follows up.',
      };
    },
    conclude: (steps) => {
      const lookup = steps.find((s) => s.use.name === 'lookup_order');
      if (!lookup?.result.is_error) return undefined;
      return `${describeError(lookup.result, lookup.use)} I did not open a ticket for an order that cannot be found.`;
    },
  };
}

function ticketDescription(question: string, order: unknown): string {
  const lines = [`The customer wrote: "${clip(question.trim(), 2000)}"`];
  if (isRecord(order)) {
    const items = Array.isArray(order.items)
      ? order.items
          .filter(isRecord)
          .map((i) => `${String(i.quantity ?? 1)} × ${String(i.name ?? i.sku ?? 'item')}`)
          .join(', ')
      : '';
    lines.push(
      `Order ${String(order.order_number)}: status ${String(order.status)}` +
        (items ? `, items ${items}` : '') +
        (typeof order.carrier === 'string' ? `, carrier ${order.carrier}` : '') +
        (typeof order.tracking_number === 'string' ? ` (tracking ${order.tracking_number})` : '') +
        (typeof order.placed_at === 'string' ? `, placed on ${order.placed_at.slice(0, 10)}` : '') +
        '.',
    );
  }
  return lines.join('\n');
}

/** The words of a question that say what it is about, for a knowledge-base search. */
function contentWords(question: string): string {
  return (question.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'-]*/gu) ?? [])
    .map((word) => word.replace(/'s$/, ''))
    .filter((word) => !STOP_WORDS.has(word))
    .join(' ');
}

function findExpression(text: string): string | undefined {
  for (const candidate of text.match(EXPRESSION_CANDIDATE) ?? []) {
    const expression = candidate.trim();
    if (OPERATOR_BETWEEN_NUMBERS.test(expression) && balanced(expression)) {
      return expression.replace(/×/g, '*').replace(/÷/g, '/');
    }
  }
  return undefined;
}

function balanced(expression: string): boolean {
  let depth = 0;
  for (const char of expression) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (depth < 0) return false;
  }
  return depth === 0;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
