// Background-work load: no-op jobs straight onto a Bull queue, and agent tasks through POST /v1/tasks.
'use strict';
const { randomUUID } = require('node:crypto');
const Queue = require('bull');
const { serve, exitWithParent } = require('../lib/child');
const { jobOptions, queueSettings } = require('../lib/bull-settings');

/** Runs `count` calls of `fn`, at most `parallel` at a time. */
async function pooled(count, parallel, fn) {
  let next = 0;
  const failures = [];
  const lane = async () => {
    while (next < count) {
      const i = next++;
      try {
        await fn(i);
      } catch (error) {
        if (failures.length < 5) failures.push(error.message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
  return failures;
}

serve({
  async noop(msg) {
    const queue = new Queue('noop', msg.redisUrl, { prefix: msg.prefix, settings: queueSettings() });
    await queue.isReady();
    const startedAt = performance.now();
    const failures = await pooled(msg.count, msg.parallel, () => queue.add({}, jobOptions(randomUUID())));
    const seconds = (performance.now() - startedAt) / 1000;
    await queue.close();
    return { added: msg.count - failures.length, failures, seconds };
  },
  async tasks(msg) {
    const startedAt = performance.now();
    const failures = await pooled(msg.count, msg.parallel, async () => {
      const res = await fetch(`${msg.url}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${msg.token}` },
        body: JSON.stringify({ agent_name: 'support', instruction: msg.instruction }),
      });
      const text = await res.text();
      if (res.status !== 202) throw new Error(`POST /v1/tasks answered ${res.status}: ${text.slice(0, 200)}`);
    });
    return {
      created: msg.count - failures.length,
      failures,
      seconds: (performance.now() - startedAt) / 1000,
    };
  },
});
exitWithParent();
