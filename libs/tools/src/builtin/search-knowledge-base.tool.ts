// Full-text search over the help-centre articles, ranked, with the article text the model answers from.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Tool, ToolContext } from '../tool';
import { DemoStore } from './demo-store';
import { SEARCH_KNOWLEDGE_BASE } from './tool-names';

export type SearchKnowledgeBaseInput = { query: string; limit?: number };

export interface KnowledgeBaseHit {
  slug: string;
  title: string;
  /** The passages that matched, matched words in **bold**. */
  snippet: string;
  body: string;
  tags: string[];
  score: number;
}

export interface KnowledgeBaseResult {
  query: string;
  /** `all_words`: every word matched; `any_word`: nothing matched them all, so articles matching some are shown. */
  match: 'all_words' | 'any_word';
  results: KnowledgeBaseHit[];
}

const DEFAULT_LIMIT = 3;

interface ArticleRow {
  slug: string;
  title: string;
  body: string;
  tags: string[];
  score: number;
  snippet: string;
}

@Injectable()
export class SearchKnowledgeBaseTool implements Tool<SearchKnowledgeBaseInput> {
  readonly name = SEARCH_KNOWLEDGE_BASE;
  readonly description =
    'Searches the help-centre knowledge base (how-to guides and policies: passwords, two-factor authentication, ' +
    'refunds, shipping, returns, invoices, API keys, plan changes, data export, account deletion, SSO, API rate ' +
    'limits). Use it before answering any how-to or policy question, and answer from the returned article text ' +
    'rather than from memory. Returns JSON {query, match, results: [{slug, title, snippet, body, tags, score}]}, ' +
    'best match first. match is "all_words" when articles contain every word of the query and "any_word" when ' +
    'the search fell back to articles containing some of them (check they are relevant). An empty results list ' +
    'means the knowledge base has nothing on the topic: say so instead of guessing.';
  readonly inputSchema = {
    type: 'object',
    properties: {
      query: {
        type: 'string',
        minLength: 1,
        maxLength: 500,
        pattern: '\\S',
        description:
          'What to look for, in plain words, e.g. "reset my password" or "refund after cancelling". ' +
          'Web-search syntax works: "quoted phrase", "or", and -word to exclude.',
      },
      limit: {
        type: 'integer',
        minimum: 1,
        maximum: 10,
        description: `How many articles to return, best first (default ${DEFAULT_LIMIT}).`,
      },
    },
    required: ['query'],
    additionalProperties: false,
  };

  constructor(
    private readonly dataSource: DataSource,
    private readonly demo: DemoStore,
  ) {}

  async execute(input: SearchKnowledgeBaseInput, context: ToolContext): Promise<KnowledgeBaseResult> {
    const limit = input.limit ?? DEFAULT_LIMIT;
    await this.demo.ensureTenant(context.tenantId);
    const rows = await this.search(context.tenantId, input.query, limit);
    if (rows.length) return { query: input.query, match: 'all_words', results: rows.map(toHit) };

    // websearch_to_tsquery ANDs the words, so a chatty question ("how long does shipping to Canada take")
    // misses articles that lack one of them: retry with the words ORed, ranked the same way.
    const words = input.query.match(/[\p{L}\p{N}]+/gu) ?? [];
    if (words.length < 2) return { query: input.query, match: 'all_words', results: [] };
    context.signal.throwIfAborted();
    const anyWord = await this.search(context.tenantId, words.join(' or '), limit);
    return { query: input.query, match: 'any_word', results: anyWord.map(toHit) };
  }

  private search(tenantId: string, query: string, limit: number): Promise<ArticleRow[]> {
    return this.dataSource.query<ArticleRow[]>(
      `SELECT a.slug, a.title, a.body, a.tags,
              ts_rank(a.search_vector, q.query) AS score,
              ts_headline('english', a.body, q.query,
                'MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=" … ", StartSel=**, StopSel=**') AS snippet
         FROM kb_articles a, websearch_to_tsquery('english', $1) AS q(query)
        WHERE a.tenant_id = $3 AND a.search_vector @@ q.query
        ORDER BY score DESC, a.id
        LIMIT $2`,
      [query, limit, tenantId],
    );
  }
}

function toHit(row: ArticleRow): KnowledgeBaseHit {
  return {
    slug: row.slug,
    title: row.title,
    snippet: row.snippet,
    body: row.body,
    tags: row.tags,
    score: Math.round(Number(row.score) * 10_000) / 10_000,
  };
}
