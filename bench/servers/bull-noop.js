// A Bull consumer whose jobs do nothing, with the app's queue settings: the ceiling Bull and Redis put on
// any background work on this machine. It reports when the expected number of jobs has completed.
'use strict';
const Queue = require('bull');
const { serve, ready, exitWithParent } = require('../lib/child');
const { queueSettings } = require('../lib/bull-settings');

const queue = new Queue('noop', process.env.REDIS_URL, {
  prefix: process.env.QUEUE_PREFIX,
  settings: queueSettings(),
});
let completed = 0;
let expected = Infinity;
let waiter = null;
queue.on('completed', () => {
  completed += 1;
  if (waiter && completed >= expected) {
    waiter();
    waiter = null;
  }
});
queue.on('error', (error) => process.stderr.write(`${error.message}\n`));

serve({
  /** Resolves when `count` more jobs have completed (or after `timeoutMs`). */
  expect(msg) {
    expected = completed + msg.count;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ completed, timedOut: true }), msg.timeoutMs);
      waiter = () => {
        clearTimeout(timer);
        resolve({ completed, timedOut: false, at: Date.now() });
      };
    });
  },
});
exitWithParent();
queue
  .isReady()
  .then(() => {
    queue.process(Number(process.env.CONCURRENCY || 1), async () => undefined);
    ready();
  })
  .catch((error) => {
    process.stderr.write(`${error.stack}\n`);
    process.exit(1);
  });
