/**
 * The tenant whose rows in the demo store (kb_articles, products, pricing_plans, orders) are the template each
 * tenant's own copy is made from. No real tenant can have this name: tenant names start with a letter or digit.
 */
export const DEMO_TEMPLATE_TENANT = '_demo';
