import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The built-in agents as they were defined in code when agents became data: the seed of a new install, stored as
 * global agents at version 1. Frozen here on purpose: later edits go through the agents API, never this file.
 */
const SEED_AGENTS: Array<{ name: string; definition: Record<string, unknown> }> = [
  {
    name: 'support',
    definition: {
      description:
        'Customer support: answers how-to questions from the knowledge base, tracks orders, opens tickets.',
      system_prompt: [
        'You are the customer support agent of an online software and hardware store.',
        'Answer from facts you obtain with your tools: search the knowledge base for how-to questions,',
        'look up orders by number, and open a support ticket when the customer needs a human to follow up.',
        'Never invent order details, prices or policies. Be concise and friendly; use short paragraphs.',
        'If a tool reports an error, explain what went wrong and what the customer can do next.',
      ].join(' '),
      model: null,
      temperature: 0.3,
      max_iterations: 6,
      max_tokens: 2048,
      thinking_budget_tokens: null,
      tools: [
        'search_knowledge_base',
        'lookup_order',
        'create_support_ticket',
        'get_product_catalog',
        'calculator',
        'get_current_time',
      ].map((name) => ({ name, requires_approval: false })),
    },
  },
  {
    name: 'sales',
    definition: {
      description: 'Sales assistant: explains products and plans, and computes quotes for a number of seats.',
      system_prompt: [
        'You are the sales assistant of an online software and hardware store.',
        'Use the product catalogue and the pricing tool for every product or price you mention, and the',
        'calculator for any arithmetic in a quote. Recommend the smallest plan that fits the need and say why.',
        'Never promise discounts or features that the tools do not show.',
      ].join(' '),
      model: null,
      temperature: 0.5,
      max_iterations: 6,
      max_tokens: 2048,
      thinking_budget_tokens: null,
      tools: [
        'get_product_catalog',
        'get_pricing',
        'calculator',
        'search_knowledge_base',
        'get_current_time',
      ].map((name) => ({ name, requires_approval: false })),
    },
  },
];

// Agents as data: an agent (one tenant's, or every tenant's when tenant_id is null) has immutable numbered versions;
// a conversation and a task pin the version they started with, so an edit never changes one that exists.
export class StoredAgents1765000000900 implements MigrationInterface {
  name = 'StoredAgents1765000000900';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE agents (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id text,
        name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_-]{0,63}$'),
        version integer NOT NULL CHECK (version >= 1),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      )`);
    // One live agent per name and owner (the empty string stands for "global": no tenant id is empty).
    await q.query(`
      CREATE UNIQUE INDEX agents_owner_name_key ON agents ((COALESCE(tenant_id, '')), name)
        WHERE deleted_at IS NULL`);
    await q.query(`
      CREATE TABLE agent_versions (
        agent_id uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
        version integer NOT NULL CHECK (version >= 1),
        definition jsonb NOT NULL,
        created_by_api_key_id uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (agent_id, version)
      )`);
    for (const seed of SEED_AGENTS) {
      await q.query(
        `WITH agent AS (
           INSERT INTO agents (tenant_id, name, version) VALUES (NULL, $1, 1) RETURNING id
         )
         INSERT INTO agent_versions (agent_id, version, definition) SELECT id, 1, $2::jsonb FROM agent`,
        [seed.name, JSON.stringify(seed.definition)],
      );
    }
    for (const table of ['conversations', 'tasks']) {
      await q.query(`ALTER TABLE ${table} ADD COLUMN agent_id uuid, ADD COLUMN agent_version integer`);
      await q.query(`
        ALTER TABLE ${table} ADD CONSTRAINT ${table}_agent_version_fkey
          FOREIGN KEY (agent_id, agent_version) REFERENCES agent_versions (agent_id, version)`);
      // What existed ran the built-in agents' code definitions: the seeded version 1 is exactly that.
      await q.query(`
        UPDATE ${table} t SET agent_id = a.id, agent_version = 1
          FROM agents a WHERE a.tenant_id IS NULL AND a.name = t.agent_name`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['tasks', 'conversations']) {
      await q.query(`ALTER TABLE ${table} DROP COLUMN agent_version, DROP COLUMN agent_id`);
    }
    await q.query(`DROP TABLE agent_versions`);
    await q.query(`DROP TABLE agents`);
  }
}
