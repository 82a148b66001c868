// The conversation event log on the real Redis: numbering across runs, batches, replay after a number, expiry
// (truncated), and numbering that survives the loss of the counter.
import { randomUUID } from 'node:crypto';
import { AppConfig, RedisService, RunEvent } from '@lib/core';
import { EventLog } from '../libs/runs/src/event-log';
import { TEST_REDIS_URL } from './support/test-env';

const text = (conversationId: string, seq: number, content: string): RunEvent => ({
  name: 'text',
  payload: { conversation_id: conversationId, run_id: 'r', seq, content },
});
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('the run event log (Redis)', () => {
  let redis: RedisService;
  let log: EventLog;

  beforeAll(() => {
    const config = Object.assign(new AppConfig(), {
      redisUrl: TEST_REDIS_URL,
      runEventsRetentionSeconds: 900,
    });
    redis = new RedisService(config);
    log = new EventLog(redis, config);
  });
  afterAll(() => redis.onModuleDestroy());

  it('numbers runs after one another and replays exactly the events after a number, in order', async () => {
    const id = randomUUID();
    const first = await log.open(id, async () => 0);
    expect(first).toBe(1);
    for (let seq = first; seq < first + 5; seq += 1) log.append(id, text(id, seq, `d${seq}`));
    log.append(id, text(id, first + 5, 'last'), true);
    await settle();
    const replay = await log.read(id, 3);
    expect(replay.events.map((e) => e.payload.seq)).toEqual([4, 5, 6]);
    expect(replay).toMatchObject({ truncated: false, lastSeq: 6 });
    // The next run continues the numbering.
    expect(await log.open(id, async () => 0)).toBe(7);
  });

  it("numbers a new conversation's first run 1 without waiting, and takes the number for a run that resumes it", async () => {
    const id = randomUUID();
    expect(log.openNew(id)).toBe(1);
    // The run dies before its first batch is appended: the counter still holds its number.
    const resumed = await log.open(id, async () => 0);
    expect(resumed).toBe(2);
  });

  it('includes the events of this process not sent yet', async () => {
    const id = randomUUID();
    const first = await log.open(id, async () => 0);
    log.append(id, text(id, first, 'queued here'));
    const replay = await log.read(id, 0);
    expect(replay.events).toEqual([text(id, first, 'queued here')]);
  });

  it('continues from the log when the counter is lost, and from the database floor when both are', async () => {
    const id = randomUUID();
    const first = await log.open(id, async () => 0);
    log.append(id, text(id, first, 'a'));
    log.append(id, text(id, first + 1, 'b'));
    await settle();
    // A run that died before its last batch: the counter still says 1, the log says 2.
    const second = await log.open(id, async () => 0);
    expect(second).toBe(3);
    log.append(id, text(id, second, 'c'));
    await settle();
    await redis.client.del(`agent-backend:run-seq:{${id}}`);
    expect(await log.open(id, async () => 0)).toBe(4);
    await redis.client.del(`agent-backend:run-seq:{${id}}`, `agent-backend:run-events:{${id}}`);
    expect(await log.open(id, async () => 41)).toBe(42);
  });

  it('says truncated when requested events are no longer retained', async () => {
    const id = randomUUID();
    await redis.client.set(`agent-backend:run-seq:{${id}}`, '10');
    const first = await log.open(id, async () => 0);
    log.append(id, text(id, first, 'only this one is kept'), true);
    await settle();
    const replay = await log.read(id, 5);
    expect(replay.truncated).toBe(true);
    expect(replay.events.map((e) => e.payload.seq)).toEqual([11]);
    expect((await log.read(id, 10)).truncated).toBe(false);
  });
});
