import { AgentCache } from './agent-cache';

describe('AgentCache', () => {
  let now: number;
  const cache = (ttlMs = 1_000, max = 10) => new AgentCache(ttlMs, max, () => now);
  beforeEach(() => {
    now = 1_000_000;
  });

  it('loads once and answers from memory until the TTL has passed', async () => {
    const c = cache();
    const load = jest.fn().mockResolvedValue('v1');
    expect(await c.getOrLoad('k', load)).toBe('v1');
    expect(await c.getOrLoad('k', load)).toBe('v1');
    expect(load).toHaveBeenCalledTimes(1);
    now += 1_000;
    load.mockResolvedValue('v2');
    expect(await c.getOrLoad('k', load)).toBe('v2');
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('remembers that nothing was found', async () => {
    const c = cache();
    const load = jest.fn().mockResolvedValue(null);
    expect(await c.getOrLoad('missing', load)).toBeNull();
    expect(await c.getOrLoad('missing', load)).toBeNull();
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('forgets everything on clear()', async () => {
    const c = cache();
    await c.getOrLoad('a', async () => 1);
    await c.getOrLoad('b', async () => 2);
    c.clear();
    expect(c.size).toBe(0);
    expect(await c.getOrLoad('a', async () => 3)).toBe(3);
  });

  it('does not keep a value whose read was under way when a change arrived', async () => {
    const c = cache();
    let finish!: (value: string) => void;
    const pending = c.getOrLoad('k', () => new Promise<string>((resolve) => (finish = resolve)));
    c.clear();
    finish('stale');
    expect(await pending).toBe('stale');
    expect(await c.getOrLoad('k', async () => 'fresh')).toBe('fresh');
  });

  it('caches nothing with a TTL of 0', async () => {
    const c = cache(0);
    const load = jest.fn().mockResolvedValue('v');
    await c.getOrLoad('k', load);
    await c.getOrLoad('k', load);
    expect(load).toHaveBeenCalledTimes(2);
    expect(c.size).toBe(0);
  });

  it('drops the oldest entry when full', async () => {
    const c = cache(1_000, 2);
    await c.getOrLoad('a', async () => 1);
    await c.getOrLoad('b', async () => 2);
    await c.getOrLoad('c', async () => 3);
    expect(c.size).toBe(2);
    const load = jest.fn().mockResolvedValue(10);
    expect(await c.getOrLoad('a', load)).toBe(10);
    expect(load).toHaveBeenCalledTimes(1);
  });
});
