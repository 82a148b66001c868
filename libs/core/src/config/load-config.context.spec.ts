import { ConfigError, loadConfig } from './load-config';

describe('loadConfig: context windows and prompt caching', () => {
  it('defaults to the built-in window table, 2048-token summaries and automatic prompt caching', () => {
    expect(loadConfig({})).toMatchObject({
      modelContextWindows: {},
      contextSummaryMaxTokens: 2048,
      promptCaching: true,
    });
  });

  it('reads MODEL_CONTEXT_WINDOWS as model=tokens pairs, "*" for any other model', () => {
    const config = loadConfig({
      MODEL_CONTEXT_WINDOWS: 'claude-sonnet-4-6=1000000, my-model=32000,*=50000',
      PROMPT_CACHING: 'false',
      CONTEXT_SUMMARY_MAX_TOKENS: '512',
    });
    expect(config.modelContextWindows).toEqual({
      'claude-sonnet-4-6': 1_000_000,
      'my-model': 32_000,
      '*': 50_000,
    });
    expect(config.promptCaching).toBe(false);
    expect(config.contextSummaryMaxTokens).toBe(512);
  });

  it.each([
    'claude-sonnet-4-6',
    'claude-sonnet-4-6=',
    'claude-sonnet-4-6=abc',
    'model=999',
    'bad model=5000',
  ])('refuses MODEL_CONTEXT_WINDOWS=%s with a sentence naming the variable', (value) => {
    expect(() => loadConfig({ MODEL_CONTEXT_WINDOWS: value })).toThrow(ConfigError);
    expect(() => loadConfig({ MODEL_CONTEXT_WINDOWS: value })).toThrow(/^MODEL_CONTEXT_WINDOWS must be/);
  });
});
