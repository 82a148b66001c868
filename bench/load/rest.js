// The HTTP load generator: autocannon in closed loop (N connections, one request in flight each), with every
// 2xx latency kept exactly (autocannon's own histogram rounds to whole milliseconds).
'use strict';
const autocannon = require('autocannon');
const { serve, exitWithParent } = require('../lib/child');
const { Samples, summarize } = require('../lib/stats');

/** A run of `seconds`, or of `amount` requests in all (every one answered before it resolves). */
function fire(opts, seconds, samples, amount) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        method: 'POST',
        headers: opts.headers,
        body: opts.body,
        connections: opts.connections,
        pipelining: 1,
        ...(amount ? { amount } : { duration: seconds }),
        timeout: 30,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    if (samples) {
      instance.on('response', (_client, statusCode, _bytes, responseTime) => {
        if (statusCode >= 200 && statusCode < 300) samples.push(responseTime);
      });
    }
  });
}

serve({
  async warmup(msg) {
    const result = await fire(msg.opts, msg.seconds);
    // A timed run stops with a request in flight on every connection; the target still serves them. One more
    // request per connection, each awaited, queues behind those, so the measured run starts on an idle target
    // (without it, the first measured requests wait for the abandoned ones: a p99 of seconds that is the bench's).
    const drain = await fire(msg.opts, 0, undefined, msg.opts.connections);
    return { non2xx: result.non2xx + drain.non2xx, errors: result.errors + drain.errors };
  },
  async run(msg) {
    const samples = new Samples(1 << 16);
    const startedAt = performance.now();
    const result = await fire(msg.opts, msg.seconds, samples);
    const elapsed = (performance.now() - startedAt) / 1000;
    const latency = summarize(samples.toArray());
    return {
      ok: latency.n,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      seconds: elapsed,
      perSecond: latency.n / elapsed,
      latency,
    };
  },
});
exitWithParent();
