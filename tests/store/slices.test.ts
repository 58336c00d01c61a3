import { describe, expect, it } from 'vitest';
import { forEachInSlices, nextTurn, SLICE_MS } from '../../src/store/slices.js';

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('forEachInSlices', () => {
  it('visits every item in order and lets the event loop run between slices of about SLICE_MS', async () => {
    const items = Array.from({ length: 40 }, (_, i) => i);
    const seen: number[] = [];
    let turns = 0;
    const tick = setInterval(() => turns++, 0);
    try {
      await forEachInSlices(items, (i) => {
        busy(0.5);
        seen.push(i);
      });
    } finally {
      clearInterval(tick);
    }
    expect(seen).toEqual(items);
    // 20 ms of work in slices of ~SLICE_MS: the timer got its turn several times in between.
    expect(SLICE_MS).toBeLessThanOrEqual(5);
    expect(turns).toBeGreaterThanOrEqual(3);
  });

  it('stops at the first exception and throws it', async () => {
    const seen: number[] = [];
    const err = await forEachInSlices([1, 2, 3, 4], (i) => {
      if (i === 3) throw new Error('three');
      seen.push(i);
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('three');
    expect(seen).toEqual([1, 2]);
  });

  it('ends a slice when full() says so, and waits with pause() before the next', async () => {
    let inFlight = 0;
    const log: string[] = [];
    await forEachInSlices(
      [1, 2, 3, 4, 5],
      (i) => {
        inFlight++;
        log.push(`item ${i}`);
      },
      {
        full: () => inFlight >= 2,
        pause: async () => {
          await nextTurn();
          log.push('pause');
          inFlight = 0;
        },
      },
    );
    // A slice may also end on time (a loaded machine), adding pauses; full() must never be overrun.
    expect(log.filter((l) => l !== 'pause')).toEqual(['item 1', 'item 2', 'item 3', 'item 4', 'item 5']);
    const runs = log.join(',').split('pause').map((r) => r.split(',').filter((x) => x !== '').length);
    expect(Math.max(...runs)).toBeLessThanOrEqual(2);
    expect(log.filter((l) => l === 'pause').length).toBeGreaterThanOrEqual(2);
  });

  it('does nothing for no items', async () => {
    let calls = 0;
    await forEachInSlices([], () => calls++);
    expect(calls).toBe(0);
  });
});
