import { LlmError } from './llm-error';
import { fullJitterDelayMs, realSleep, retryDelayMs } from './retry-policy';

const settings = { baseMs: 100, maxDelayMs: 1_000 };

describe('retry policy', () => {
  it('draws full jitter uniformly below base·2ⁿ', () => {
    expect(fullJitterDelayMs(0, settings, () => 0)).toBe(0);
    expect(fullJitterDelayMs(0, settings, () => 0.999)).toBe(99);
    expect(fullJitterDelayMs(2, settings, () => 0.5)).toBe(200);
    expect(fullJitterDelayMs(3, settings, () => 0.25)).toBe(200);
  });

  it('never lets the ceiling grow past the cap', () => {
    expect(fullJitterDelayMs(10, settings, () => 0.999)).toBe(999);
    expect(fullJitterDelayMs(60, settings, () => 0.5)).toBe(500);
  });

  it('spreads delays across the whole range rather than around the exponential', () => {
    const delays = Array.from({ length: 2_000 }, () => fullJitterDelayMs(3, settings));
    expect(Math.min(...delays)).toBeLessThan(80);
    expect(Math.max(...delays)).toBeGreaterThan(720);
  });

  it('waits at least the retry-after the provider sent, capped at the maximum delay', () => {
    const asked = new LlmError('rate_limited', 'slow down', 429, 0.3);
    expect(retryDelayMs(asked, 0, settings, () => 0)).toBe(300);
    expect(retryDelayMs(asked, 3, settings, () => 0.9)).toBe(720);
    const wild = new LlmError('overloaded', 'busy', 529, 3_600);
    expect(retryDelayMs(wild, 0, settings, () => 0)).toBe(1_000);
  });

  it('uses full jitter when the provider sent no retry-after', () => {
    expect(retryDelayMs(new LlmError('overloaded', 'busy', 529), 1, settings, () => 0.5)).toBe(100);
  });

  it('sleeps, and stops sleeping with an aborted error when the signal fires', async () => {
    await expect(realSleep(1)).resolves.toBeUndefined();
    const controller = new AbortController();
    const sleeping = realSleep(10_000, controller.signal);
    controller.abort();
    await expect(sleeping).rejects.toMatchObject({ kind: 'aborted' });
  });
});
