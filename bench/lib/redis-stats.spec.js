'use strict';
const { parseCommandStats, diffCommandStats, perUnit } = require('./redis-stats');

const INFO = (calls) =>
  [
    '# Commandstats',
    ...Object.entries(calls).map(
      ([name, n]) => `cmdstat_${name}:calls=${n},usec=10,usec_per_call=1.00,rejected_calls=0,failed_calls=0`,
    ),
    '',
  ].join('\r\n');

describe('Redis command counts from INFO commandstats', () => {
  it('are read per command and in total', () => {
    expect(parseCommandStats(INFO({ eval: 3, xadd: 10, info: 2 }))).toEqual({
      total: 15,
      byCommand: { eval: 3, xadd: 10, info: 2 },
    });
  });

  it('between two readings leave out the first reading itself and commands that did not run', () => {
    const before = parseCommandStats(INFO({ eval: 3, xadd: 10, info: 2, get: 5 }));
    const after = parseCommandStats(INFO({ eval: 5, xadd: 30, info: 3, get: 5, publish: 2 }));
    expect(diffCommandStats(before, after)).toEqual({
      total: 24,
      byCommand: { eval: 2, xadd: 20, publish: 2 },
    });
  });

  it('per unit give the event log its own share (appends, fan-out, replay) and how many events each append carried', () => {
    const diff = { total: 40, byCommand: { eval: 10, xadd: 20, publish: 5, subscribe: 2, get: 3 } };
    expect(perUnit(diff, 10)).toEqual({
      total: 4,
      eventLog: 2.7,
      // Five appends (one publish each) carried the twenty events.
      appends: 0.5,
      eventsPerAppend: 4,
      byCommand: { xadd: 2, eval: 1, publish: 0.5, get: 0.3, subscribe: 0.2 },
    });
  });
});
