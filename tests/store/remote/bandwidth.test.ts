/** The bandwidth pacer on a fake clock: bytes take the time the rate says, bursts stay small. */
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { bandwidthPacer, pacedBody, type PacerClock } from '../../../src/store/remote/bandwidth.js';

/** A clock whose sleeps advance it at once, recording them. */
function fakeClock(): PacerClock & { t: number; sleeps: number[] } {
  const c = {
    t: 0,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number, signal?: AbortSignal) => {
      signal?.throwIfAborted();
      c.sleeps.push(ms);
      c.t += ms;
    },
  };
  return c;
}

describe('bandwidthPacer', () => {
  it('lets bytes through at the rate after a burst of a tenth of a second', async () => {
    const clock = fakeClock();
    const pacer = bandwidthPacer(1_000_000, clock);
    await pacer.take(100_000);
    expect(clock.t).toBe(0);
    await pacer.take(2_000_000);
    // 2 MB at 1 MB/s, less nothing: the burst was spent by the first take.
    expect(clock.t).toBeGreaterThanOrEqual(2000);
    expect(clock.t).toBeLessThan(2010);
    expect(Math.max(...clock.sleeps)).toBeLessThanOrEqual(100);
  });

  it('refills while idle, up to the burst only', async () => {
    const clock = fakeClock();
    const pacer = bandwidthPacer(1000, clock);
    await pacer.take(100);
    clock.t += 60_000;
    await pacer.take(100);
    expect(clock.sleeps).toEqual([]);
    await pacer.take(100);
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(100);
  });

  it('null is no limit', async () => {
    const clock = fakeClock();
    await bandwidthPacer(null, clock).take(1e12);
    expect(clock.sleeps).toEqual([]);
  });

  it('an abort ends a wait with the signal reason', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const clock: PacerClock = {
      now: () => 0,
      sleep: () => {
        controller.abort(reason);
        return Promise.reject(new Error('timer aborted'));
      },
    };
    await expect(bandwidthPacer(10, clock).take(1000, controller.signal)).rejects.toBe(reason);
  });

  it('pacedBody streams the whole buffer through the pacer', async () => {
    const clock = fakeClock();
    const data = Buffer.from('x'.repeat(300_000));
    expect(await text(pacedBody(data, bandwidthPacer(100_000, clock)))).toBe(data.toString());
    expect(clock.t).toBeGreaterThanOrEqual(2900);
  });
});
