// The context window of each model, the limits that lower it, and the provider's "prompt is too long" recognised.
import { ContextWindows, requestTokenBound, UNKNOWN_MODEL_CONTEXT_WINDOW } from './context-windows';
import { contextOverflowError, contextOverflowOf } from './prompt-too-long';
import { LlmError } from './llm-error';
import { estimateInputTokens } from './token-estimate';

describe('ContextWindows', () => {
  it('knows the Claude models, a dated id by its family, and a conservative window for any other', () => {
    const windows = new ContextWindows();
    expect(windows.windowOf('claude-sonnet-4-6')).toBe(200_000);
    expect(windows.windowOf('claude-sonnet-4-5-20250929')).toBe(200_000);
    expect(windows.windowOf('claude-haiku-4-5')).toBe(200_000);
    expect(windows.windowOf('some-other-model')).toBe(UNKNOWN_MODEL_CONTEXT_WINDOW);
    expect(UNKNOWN_MODEL_CONTEXT_WINDOW).toBeLessThan(200_000);
  });

  it('takes overrides and additions from the configuration, "*" for models it does not know', () => {
    const windows = ContextWindows.fromConfig({
      modelContextWindows: { 'claude-sonnet-4-6': 1_000_000, 'my-model': 32_000, '*': 50_000 },
    });
    expect(windows.windowOf('claude-sonnet-4-6')).toBe(1_000_000);
    expect(windows.windowOf('my-model-2026')).toBe(32_000);
    expect(windows.windowOf('claude-opus-4-1')).toBe(200_000);
    expect(windows.windowOf('unheard-of')).toBe(50_000);
  });

  it('lowers the budget to the smallest limit set (agent, conversation), never above the window', () => {
    const windows = new ContextWindows();
    expect(windows.budgetOf('claude-sonnet-4-6')).toBe(200_000);
    expect(windows.budgetOf('claude-sonnet-4-6', null, 50_000)).toBe(50_000);
    expect(windows.budgetOf('claude-sonnet-4-6', 40_000, 50_000)).toBe(40_000);
    expect(windows.budgetOf('claude-sonnet-4-6', 500_000, undefined)).toBe(200_000);
  });

  it('bounds a request by its input bound plus max_tokens', () => {
    const request = {
      system: 'Be brief.',
      messages: [{ role: 'user' as const, content: '你好' }],
      tools: [],
    };
    expect(requestTokenBound({ ...request, maxTokens: 1000 })).toBe(estimateInputTokens(request) + 1000);
  });
});

describe('prompt is too long', () => {
  it("reads the provider's counts from its message", () => {
    expect(contextOverflowOf('prompt is too long: 210345 tokens > 200000 maximum')).toEqual({
      tokens: 210_345,
      maximum: 200_000,
    });
    expect(
      contextOverflowOf(
        'input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000, decrease input length or `max_tokens` and try again',
      ),
    ).toEqual({ tokens: 209_573, maximum: 200_000 });
    expect(contextOverflowOf('messages: at least one message is required')).toBeUndefined();
    expect(contextOverflowOf(undefined)).toBeUndefined();
  });

  it('is an invalid request that carries the counts; other failures are not', () => {
    const tooLong = new LlmError('invalid_request', 'rejected', 400);
    tooLong.contextOverflow = { tokens: 5, maximum: 4 };
    expect(contextOverflowError(tooLong)).toEqual({ tokens: 5, maximum: 4 });
    expect(contextOverflowError(new LlmError('invalid_request', 'rejected', 400))).toBeUndefined();
    expect(contextOverflowError(new Error('prompt is too long: 5 tokens > 4 maximum'))).toBeUndefined();
  });
});
