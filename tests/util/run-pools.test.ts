import { describe, expect, it } from 'vitest';
import { mapPool, runPools } from '../../src/util/run-pools.js';

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('runPools', () => {
  it('runs every item, each pool at most its parallelism at once, the pools side by side', async () => {
    const running = { a: 0, b: 0 };
    const peak = { a: 0, b: 0 };
    const items: { pool: 'a' | 'b'; i: number }[] = [...Array.from({ length: 20 }, (_, i) => ({ pool: 'a' as const, i })), ...Array.from({ length: 5 }, (_, i) => ({ pool: 'b' as const, i }))];
    const out = await runPools(
      [
        { items: items.filter((x) => x.pool === 'a'), parallel: 4 },
        { items: items.filter((x) => x.pool === 'b'), parallel: 2 },
      ],
      async (x) => {
        running[x.pool]++;
        peak[x.pool] = Math.max(peak[x.pool], running[x.pool]);
        await tick(2);
        running[x.pool]--;
        return `${x.pool}${x.i}`;
      },
    );
    expect(out.sort()).toEqual(items.map((x) => `${x.pool}${x.i}`).sort());
    expect(peak).toEqual({ a: 4, b: 2 });
  });

  it('after the first error starts nothing new, awaits the work under way, then throws that error', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const run = runPools([{ items: [0, 1, 2, 3, 4, 5], parallel: 2 }], async (i) => {
      started.push(i);
      if (i === 0) throw new Error('first');
      await tick(30);
      finished.push(i);
      if (i === 1) throw new Error('second');
    });
    await expect(run).rejects.toThrow('first');
    expect(started).toEqual([0, 1]);
    expect(finished).toEqual([1]);
  });

  it('returns nothing for no items', async () => {
    expect(await runPools([{ items: [], parallel: 3 }], async () => 1)).toEqual([]);
  });
});

describe('mapPool', () => {
  it('keeps the order of the items whatever order the work finishes in, at most `parallel` at once', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapPool([5, 1, 4, 2, 3, 0], 3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      // Later items finish first: the result order must not follow the finish order.
      await tick(n);
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0]);
    expect(peak).toBe(3);
  });

  it('throws the first error once the work under way settled', async () => {
    const finished: number[] = [];
    const run = mapPool([0, 1, 2, 3], 2, async (i) => {
      if (i === 0) throw new Error('first');
      await tick(10);
      finished.push(i);
      return i;
    });
    await expect(run).rejects.toThrow('first');
    expect(finished).toEqual([1]);
  });

  it('returns [] for no items', async () => {
    expect(await mapPool([], 4, async () => 1)).toEqual([]);
  });
});
