// Helpers for background-task tests: a queue prefix of their own, waiting on a task's status, cleaning Redis.
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import type { JsonResponse } from './app';
import { TEST_REDIS_URL } from './test-env';

/** A Bull prefix no other test file (or engineer's run) shares, so no worker takes another file's jobs. */
export function testQueuePrefix(name: string): string {
  return `test-${name}-${randomUUID().slice(0, 8)}`;
}

/** Polls `read` until `done` holds for its answer; fails with the last answer after `timeoutMs`. */
export async function waitUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 10_000,
  what = 'the condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await read();
  while (!done(last)) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await read();
  }
  return last;
}

export type TaskReader = (id: string) => Promise<JsonResponse>;

/** Waits until the task's status is one of `statuses`, answering its TaskStatus. */
export async function waitForStatus(
  read: TaskReader,
  id: string,
  statuses: string[],
  timeoutMs = 10_000,
): Promise<Record<string, any>> {
  const res = await waitUntil(
    () => read(id),
    (r) => statuses.includes(r.body?.status),
    timeoutMs,
    `task ${id} to be ${statuses.join(' or ')}`,
  );
  return res.body;
}

/** Deletes every Redis key of a test's Bull prefix. */
export async function removeQueueKeys(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
