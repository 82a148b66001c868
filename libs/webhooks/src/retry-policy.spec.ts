import { AttemptOutcome, classifyAttempt, nextDelayMs, retryAfterMs, withJitter } from './retry-policy';

const answered = (statusCode: number, retryAfter?: string): AttemptOutcome => ({
  statusCode,
  failure: null,
  retryAfter,
});
const failed = (failure: AttemptOutcome['failure']): AttemptOutcome => ({ statusCode: null, failure });

describe('classifyAttempt', () => {
  it.each([200, 201, 202, 204, 299])('counts %i as delivered', (status) => {
    expect(classifyAttempt(answered(status))).toEqual({ kind: 'delivered' });
  });

  it.each([408, 500, 502, 503, 504, 599, 301, 302, 307])('retries %i', (status) => {
    expect(classifyAttempt(answered(status))).toEqual({ kind: 'retry', notBeforeMs: null });
  });

  it.each([400, 401, 403, 404, 405, 409, 410, 413, 415, 422])('gives up on %i', (status) => {
    expect(classifyAttempt(answered(status))).toEqual({ kind: 'give_up' });
  });

  it('retries 429 no sooner than its Retry-After', () => {
    expect(classifyAttempt(answered(429, '7'))).toEqual({ kind: 'retry', notBeforeMs: 7_000 });
    expect(classifyAttempt(answered(429))).toEqual({ kind: 'retry', notBeforeMs: null });
  });

  it('honours Retry-After on a 503 too', () => {
    expect(classifyAttempt(answered(503, '2'))).toEqual({ kind: 'retry', notBeforeMs: 2_000 });
  });

  it.each(['network', 'timeout', 'unresolved', 'unconfigured'] as const)(
    'retries an attempt that got no answer because of %s',
    (failure) => {
      expect(classifyAttempt(failed(failure))).toEqual({ kind: 'retry', notBeforeMs: null });
    },
  );

  it('gives up on a target the SSRF guard refuses (it resolves to a refused address)', () => {
    expect(classifyAttempt(failed('refused'))).toEqual({ kind: 'give_up' });
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-11-20T10:00:00Z');

  it('reads delta seconds and HTTP dates', () => {
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('Fri, 20 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
  });

  it('answers 0 for a date in the past, caps at a day, and null for nothing or nonsense', () => {
    expect(retryAfterMs('Fri, 20 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('999999', now)).toBe(86_400_000);
    expect(retryAfterMs(undefined, now)).toBeNull();
    expect(retryAfterMs('soon', now)).toBeNull();
    expect(retryAfterMs('-5', now)).toBeNull();
  });
});

describe('withJitter and nextDelayMs', () => {
  const schedule = [5_000, 300_000, 1_800_000];

  it('moves a delay by at most ±10 %', () => {
    expect(withJitter(10_000, () => 0)).toBe(9_000);
    expect(withJitter(10_000, () => 0.5)).toBe(10_000);
    expect(withJitter(10_000, () => 0.999999)).toBe(11_000);
    for (let i = 0; i < 200; i += 1) {
      const ms = withJitter(300_000);
      expect(ms).toBeGreaterThanOrEqual(270_000);
      expect(ms).toBeLessThanOrEqual(330_000);
    }
  });

  it('takes the delay after attempt n from the schedule, and gives up once it is spent', () => {
    const middle = () => 0.5;
    expect(nextDelayMs(schedule, 1, null, middle)).toBe(5_000);
    expect(nextDelayMs(schedule, 2, null, middle)).toBe(300_000);
    expect(nextDelayMs(schedule, 3, null, middle)).toBe(1_800_000);
    expect(nextDelayMs(schedule, 4, null, middle)).toBeNull();
  });

  it('waits for Retry-After when it is longer than the scheduled delay, never shorter than the schedule', () => {
    expect(nextDelayMs(schedule, 1, 60_000, () => 0.5)).toBe(60_000);
    expect(nextDelayMs(schedule, 2, 1_000, () => 0.5)).toBe(300_000);
  });
});
