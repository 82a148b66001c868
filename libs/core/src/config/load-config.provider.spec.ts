import { ConfigError, loadConfig } from './load-config';

describe('loadConfig: provider controls, cost and budgets', () => {
  it('defaults to our own retries (the SDK retries nothing), no rate limit, no tenant budget and a 5 USD conversation ceiling', () => {
    expect(loadConfig({})).toMatchObject({
      anthropicApiKeys: [],
      llmMaxRetries: 2,
      llmRetryBaseMs: 500,
      llmRetryMaxDelayMs: 8_000,
      llmRequestsPerMinute: 0,
      llmTokensPerMinute: 0,
      llmRateLimitWindowMs: 60_000,
      llmRateLimitMaxWaitMs: 10_000,
      rateLimitAlertRatio: 0.8,
      modelPrices: {},
      unknownModelPrice: { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 },
      conversationCostLimitUsd: 5,
      tenantDailyBudgetUsd: 0,
      anomalyCostMultiple: 10,
      anomalyCostUsd: 0,
      anomalyBaselineConversations: 50,
      anomalyMinBaseline: 5,
      alertWebhookUrl: '',
    });
  });

  it('builds the key pool from ANTHROPIC_API_KEYS and ANTHROPIC_API_KEY, without duplicates', () => {
    const config = loadConfig({
      ANTHROPIC_API_KEYS: 'sk-ant-one-1234, sk-ant-two-1234,,sk-ant-one-1234',
      ANTHROPIC_API_KEY: 'sk-ant-three-12',
    });
    expect(config.anthropicApiKeys).toEqual(['sk-ant-one-1234', 'sk-ant-two-1234', 'sk-ant-three-12']);
    expect(config.anthropicApiKey).toBe('sk-ant-three-12');
    expect(loadConfig({ ANTHROPIC_API_KEYS: 'sk-ant-one-1234' }).anthropicApiKey).toBe('sk-ant-one-1234');
  });

  it('reads price overrides, deriving cache prices the provider way when they are left out', () => {
    const config = loadConfig({
      MODEL_PRICES_JSON:
        '{"claude-sonnet-4-6": {"input": 2, "output": 10}, "my-model": {"input": 1, "output": 2, "cache_write": 1.5, "cache_read": 0.05}}',
      UNKNOWN_MODEL_PRICE_JSON: '{"input": 20, "output": 100, "cache_write": 25, "cache_read": 2}',
    });
    expect(config.modelPrices).toEqual({
      'claude-sonnet-4-6': { input: 2, output: 10, cacheWrite: 2.5, cacheRead: 0.2 },
      'my-model': { input: 1, output: 2, cacheWrite: 1.5, cacheRead: 0.05 },
    });
    expect(config.unknownModelPrice).toEqual({ input: 20, output: 100, cacheWrite: 25, cacheRead: 2 });
  });

  it.each([
    [{ ANTHROPIC_API_KEYS: 'short' }, 'ANTHROPIC_API_KEYS'],
    [{ LLM_MAX_RETRIES: '11' }, 'LLM_MAX_RETRIES'],
    [{ LLM_RETRY_BASE_MS: '0' }, 'LLM_RETRY_BASE_MS'],
    [{ LLM_RETRY_BASE_MS: '1000', LLM_RETRY_MAX_DELAY_MS: '500' }, 'LLM_RETRY_MAX_DELAY_MS'],
    [{ LLM_REQUESTS_PER_MINUTE: '-1' }, 'LLM_REQUESTS_PER_MINUTE'],
    [{ LLM_TOKENS_PER_MINUTE: 'many' }, 'LLM_TOKENS_PER_MINUTE'],
    [{ LLM_RATE_LIMIT_MAX_WAIT_MS: '600001' }, 'LLM_RATE_LIMIT_MAX_WAIT_MS'],
    [{ LLM_RATE_LIMIT_WINDOW_MS: '10' }, 'LLM_RATE_LIMIT_WINDOW_MS'],
    [{ RATE_LIMIT_ALERT_RATIO: '1.5' }, 'RATE_LIMIT_ALERT_RATIO'],
    [{ RATE_LIMIT_ALERT_RATIO: '-0.2' }, 'RATE_LIMIT_ALERT_RATIO'],
    [{ MODEL_PRICES_JSON: 'not json' }, 'MODEL_PRICES_JSON'],
    [{ MODEL_PRICES_JSON: '{"m": {"input": -1, "output": 1}}' }, 'MODEL_PRICES_JSON'],
    [{ MODEL_PRICES_JSON: '{"m": {"input": 1}}' }, 'MODEL_PRICES_JSON'],
    [{ MODEL_PRICES_JSON: '{"m": {"input": 1, "output": 2, "outptu": 3}}' }, 'MODEL_PRICES_JSON'],
    [{ UNKNOWN_MODEL_PRICE_JSON: '[]' }, 'UNKNOWN_MODEL_PRICE_JSON'],
    [{ CONVERSATION_COST_LIMIT_USD: '-2' }, 'CONVERSATION_COST_LIMIT_USD'],
    [{ TENANT_DAILY_BUDGET_USD: '1e3' }, 'TENANT_DAILY_BUDGET_USD'],
    [{ ANOMALY_COST_MULTIPLE: '1' }, 'ANOMALY_COST_MULTIPLE'],
    [{ ANOMALY_COST_USD: 'lots' }, 'ANOMALY_COST_USD'],
    [{ ANOMALY_BASELINE_CONVERSATIONS: '0' }, 'ANOMALY_BASELINE_CONVERSATIONS'],
    [{ ANOMALY_MIN_BASELINE: '0' }, 'ANOMALY_MIN_BASELINE'],
    [{ ALERT_WEBHOOK_URL: 'ftp://alerts' }, 'ALERT_WEBHOOK_URL'],
    [{ ALERT_WEBHOOK_URL: 'https://alerts.example.com/hook' }, 'ALERT_WEBHOOK_URL'],
  ])('refuses %j with one sentence naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable} must `));
  });

  it('reads RATE_LIMIT_ALERT_RATIO as a share of capacity, 0 turning the alert off', () => {
    expect(loadConfig({ RATE_LIMIT_ALERT_RATIO: '0.95' }).rateLimitAlertRatio).toBe(0.95);
    expect(loadConfig({ RATE_LIMIT_ALERT_RATIO: '1' }).rateLimitAlertRatio).toBe(1);
    expect(loadConfig({ RATE_LIMIT_ALERT_RATIO: '0' }).rateLimitAlertRatio).toBe(0);
  });

  it('never echoes a refused provider key', () => {
    expect(() => loadConfig({ ANTHROPIC_API_KEYS: 'sk-ant-good-123,bad key here' })).not.toThrow(/good|bad/);
  });
});
