// Redis commands counted from `INFO commandstats` (no MONITOR): totals and per command, before and after a
// scenario. Commands run inside Lua scripts are counted under their own names as well as the script's
// `eval`/`evalsha`, so a script call shows up as one `eval` plus every command it ran.
'use strict';

/** `{total, byCommand}` from the text of `INFO commandstats`. */
function parseCommandStats(info) {
  const byCommand = {};
  let total = 0;
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const calls = Number(match[2]);
    byCommand[match[1]] = calls;
    total += calls;
  }
  return { total, byCommand };
}

/**
 * What ran between two readings. `own` is the number of commands the reading itself adds per command name
 * (one `info` per reading), taken off so an idle Redis reads as zero.
 */
function diffCommandStats(before, after, own = { info: 1 }) {
  const byCommand = {};
  let total = 0;
  for (const [name, calls] of Object.entries(after.byCommand)) {
    const delta = calls - (before.byCommand[name] ?? 0) - (own[name] ?? 0);
    if (delta > 0) {
      byCommand[name] = delta;
      total += delta;
    }
  }
  return { total, byCommand };
}

/** The commands that exist for the run event log: appends (and the scripts carrying them), fan-out, replay. */
const EVENT_LOG_COMMANDS = ['xadd', 'xrange', 'publish', 'subscribe', 'unsubscribe'];

/**
 * Per-unit figures of a diff, each divided by `units` (turns, deltas, …): `total`, `eventLog` (the commands only
 * the event log uses), `appends` (event-log batches: each append script ends with one `publish`, and nothing
 * else in a run publishes), `byCommand`; and `eventsPerAppend` (`xadd` per `publish`: how well deltas batch).
 */
function perUnit(diff, units, digits = 3) {
  const scale = (v) => Number((v / Math.max(1, units)).toFixed(digits));
  const byCommand = {};
  for (const [name, calls] of Object.entries(diff.byCommand).sort((a, b) => b[1] - a[1])) {
    byCommand[name] = scale(calls);
  }
  const eventLog = EVENT_LOG_COMMANDS.reduce((sum, name) => sum + (diff.byCommand[name] ?? 0), 0);
  const publishes = diff.byCommand.publish ?? 0;
  return {
    total: scale(diff.total),
    eventLog: scale(eventLog),
    appends: scale(publishes),
    eventsPerAppend: publishes ? Number(((diff.byCommand.xadd ?? 0) / publishes).toFixed(2)) : null,
    byCommand,
  };
}

async function readCommandStats(redis) {
  return parseCommandStats(await redis.info('commandstats'));
}

module.exports = { parseCommandStats, diffCommandStats, perUnit, readCommandStats, EVENT_LOG_COMMANDS };
