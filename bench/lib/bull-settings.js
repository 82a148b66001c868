// The queue settings and job options the app uses (libs/tasks), at their defaults, for the no-op Bull runs.
'use strict';
const DAY_SECONDS = 86_400;

const queueSettings = () => ({
  lockDuration: 30_000,
  lockRenewTime: 15_000,
  stalledInterval: 30_000,
  maxStalledCount: 2,
});

const jobOptions = (jobId) => ({
  jobId,
  attempts: 3,
  backoff: { type: 'exponential', delay: 5_000 },
  removeOnComplete: { age: 7 * DAY_SECONDS, count: 10_000 },
  removeOnFail: { age: 30 * DAY_SECONDS, count: 10_000 },
});

module.exports = { queueSettings, jobOptions };
