'use strict';
const { compare, eventLogCost } = require('./report');
const { percentile, summarize } = require('./stats');

const run = (rest, extra = {}) => ({
  meta: { startedAt: 'then', machine: { commit: 'abc1234' } },
  rest: rest.map((r) => ({ scenario: 'rest', latencyMs: 0, clients: 100, kind: 'app', ...r })),
  ...extra,
});

describe('compare (the check against the previous committed results)', () => {
  it('flags a figure more than 15% worse in its own direction, and nothing within 15% or better', () => {
    const before = run([{ target: 'app', turnsPerSecond: 400, p50: 200, p99: 300, cpuMsPerTurn: 2 }]);
    const now = run([{ target: 'app', turnsPerSecond: 330, p50: 229, p99: 250, cpuMsPerTurn: 2.6 }]);
    const result = compare(before, now);
    expect(result.against).toBe('then (abc1234)');
    expect(result.compared).toBe(4);
    // 400 → 330 turns/s is 17.5% worse (higher is better); CPU 2 → 2.6 ms is 30% worse; p50 +14.5% is not
    // flagged; p99 got better.
    expect(result.worse).toEqual([
      { figure: 'rest.0ms.100c.app.turnsPerSecond', before: 400, now: 330, worseBy: 17.5 },
      { figure: 'rest.0ms.100c.app.cpuMsPerTurn', before: 2, now: 2.6, worseBy: 30 },
    ]);
  });

  it('ignores moves under the noise floor of small latencies and memory, and figures the previous run lacks', () => {
    const before = run([{ target: 'app', turnsPerSecond: 400, p50: 1.0, p99: 2.0 }], {
      idle: [{ requested: 10000, target: 'app', rssKBPerConnection: 2, heapKBPerConnection: 2 }],
    });
    const now = run(
      [
        { target: 'app', turnsPerSecond: 400, p50: 1.4, p99: 2.6 },
        { target: 'baseline-sdk', turnsPerSecond: 10, p50: 1, p99: 1 },
      ],
      { idle: [{ requested: 10000, target: 'app', rssKBPerConnection: 2.9, heapKBPerConnection: 3.1 }] },
    );
    const result = compare(before, now);
    // p50 +40% by 0.4 ms and RSS +45% by 0.9 KB are noise; p99 +30% by 0.6 ms and heap +55% by 1.1 KB are not.
    expect(result.worse.map((w) => w.figure)).toEqual([
      'rest.0ms.100c.app.p99',
      'idle.10000.app.heapKBPerConnection',
    ]);
  });

  it('compares nothing without a previous run', () => {
    expect(compare(null, run([{ target: 'app', turnsPerSecond: 1 }]))).toEqual({
      against: null,
      worse: [],
      compared: 0,
    });
  });
});

const streamRow = (extra) => ({
  scenario: 'sockets',
  clients: 100,
  target: 'app',
  kind: 'app',
  overheadP99: 100,
  deltasPerSecond: 4500,
  cpuUsPerDelta: 180,
  redisCommandsPerDelta: 0.11,
  writeSyscallsPerDelta: 1.08,
  ...extra,
});

describe('the cost of a streamed delta against the previous results', () => {
  it('is part of the 15% check for the app (CPU, Redis commands, write syscalls and deltas per delta)', () => {
    const before = run([], { sockets: { largestPassing: {}, steps: [streamRow()] } });
    const now = run([], {
      sockets: { largestPassing: {}, steps: [streamRow({ cpuUsPerDelta: 200, redisCommandsPerDelta: 0.9 })] },
    });
    // 180 → 200 µs is 11% (not flagged); 0.11 → 0.9 commands per delta is.
    expect(compare(before, now).worse.map((w) => w.figure)).toEqual([
      'sockets.100.app.redisCommandsPerDelta',
    ]);
  });

  it('is tabled beside the same figures of the previous run, REST per turn and streams per delta', () => {
    const before = run([{ target: 'app', clients: 1, redisCommandsPerTurn: 11, cpuMsPerTurn: 3.5 }], {
      sockets: { largestPassing: {}, steps: [streamRow({ redisCpuCores: 0.01 })] },
    });
    const now = run(
      [
        { target: 'app', clients: 1, redisCommandsPerTurn: 17, cpuMsPerTurn: 3.7 },
        { target: 'baseline-sdk', clients: 1, redisCommandsPerTurn: 0, cpuMsPerTurn: 1 },
      ],
      {
        sockets: {
          largestPassing: {},
          steps: [
            streamRow({
              redisCommandsPerDelta: 1.2,
              redisCpuUsPerDelta: 9,
              redisPerDelta: { appends: 0.25 },
            }),
          ],
        },
      },
    );
    now.meta.config = { restClients: [1, 100] };
    const rows = eventLogCost(before, now);
    const pick = (scenario, figure) => rows.find((r) => r.scenario === scenario && r.figure === figure);
    expect(pick('REST, persisted, provider 0 ms, 1 client', 'Redis commands per turn')).toMatchObject({
      before: 11,
      now: 17,
    });
    expect(pick('Socket.IO, 100 streams', 'Redis commands per delta')).toMatchObject({
      before: 0.11,
      now: 1.2,
    });
    // A figure the previous run did not have is shown without a before.
    expect(pick('Socket.IO, 100 streams', 'event-log appends per delta')).toMatchObject({
      before: null,
      now: 0.25,
    });
    // Redis CPU per delta of older results comes from Redis's cores: 0.01 core ÷ 4500 deltas/s.
    expect(pick('Socket.IO, 100 streams', 'Redis CPU per delta').before).toBeCloseTo(2.22, 2);
    expect(rows.some((r) => r.scenario.includes('100 clients'))).toBe(false);
  });
});

describe('percentiles', () => {
  it('are nearest-rank over the exact samples', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(summarize(samples)).toMatchObject({ n: 100, p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 });
    expect(percentile([0.25], 99)).toBe(0.25);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
  });
});
