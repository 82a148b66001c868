// The HTTP load generator: autocannon in closed loop (N connections, one request in flight each), with every
// 2xx latency kept exactly (autocannon's own histogram rounds to whole milliseconds). Warm-up and measurement are
// one autocannon run on the same connections: the first `warmupSeconds` are not measured, and the parent is told
// when measuring starts (it starts its CPU and Redis meters then). Two separate runs would open 100 new
// connections for the measured part and leave the warm-up's last requests in flight on the target, both of
// which the first measured requests would pay for.
'use strict';
const autocannon = require('autocannon');
const { serve, exitWithParent } = require('../lib/child');
const { Samples, summarize } = require('../lib/stats');

/** A closed-loop run of `seconds`; `onResponse(responseTime, at)` for every 2xx, `at` on performance.now(). */
function fire(opts, seconds, onResponse) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        method: 'POST',
        headers: opts.headers,
        body: opts.body,
        connections: opts.connections,
        pipelining: 1,
        duration: seconds,
        timeout: 30,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    if (onResponse) {
      instance.on('response', (_client, statusCode, _bytes, responseTime) => {
        if (statusCode >= 200 && statusCode < 300) onResponse(responseTime, performance.now());
      });
    }
  });
}

serve({
  /**
   * `warmupSeconds` of load, then `seconds` measured: latency of the requests sent after the warm-up, throughput
   * of the answers received after it. Sends `{type: 'measuring', run}` when the measured part starts.
   */
  async run(msg) {
    const samples = new Samples(1 << 16);
    let measuredFrom = Infinity;
    let answered = 0;
    const timer = setTimeout(() => {
      measuredFrom = performance.now();
      process.send({ type: 'measuring', run: msg.run });
    }, msg.warmupSeconds * 1000);
    let result;
    try {
      result = await fire(msg.opts, msg.warmupSeconds + msg.seconds, (responseTime, at) => {
        if (at < measuredFrom) return;
        answered += 1;
        if (at - responseTime >= measuredFrom) samples.push(responseTime);
      });
    } finally {
      clearTimeout(timer);
    }
    const elapsed = (performance.now() - measuredFrom) / 1000;
    const latency = summarize(samples.toArray());
    return {
      ok: answered,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      seconds: elapsed,
      perSecond: answered / elapsed,
      latency,
    };
  },
});
exitWithParent();
