/**
 * The bandwidth limit (`remote.bandwidth`, bytes/s): a token bucket that bytes must pass before
 * they are sent or written, and a request body that streams a buffer through it. The clock is
 * injectable so the pacing is tested without waiting.
 */
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';

/** Lets bytes pass no faster than a rate. */
export interface Pacer {
  /** Resolves once `bytes` more may pass; rejects with the signal's reason when it fires first. */
  take(bytes: number, signal?: AbortSignal): Promise<void>;
}

/** Time for a pacer: milliseconds now, and a wait that an AbortSignal ends. */
export interface PacerClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const REAL_CLOCK: PacerClock = {
  now: () => performance.now(),
  sleep: (ms, signal) => delay(ms, undefined, signal === undefined ? undefined : { signal }),
};

/** No limit: every `take` resolves at once (unless the signal already fired). */
const UNLIMITED: Pacer = {
  take: (_bytes, signal) => {
    signal?.throwIfAborted();
    return Promise.resolve();
  },
};

/**
 * A pacer for `bytesPerSecond` (null: no limit). It starts full and holds at most a tenth of a
 * second's worth, so a burst never exceeds that; bytes wait in slices of at most that size.
 */
export function bandwidthPacer(bytesPerSecond: number | null, clock: PacerClock = REAL_CLOCK): Pacer {
  if (bytesPerSecond === null) return UNLIMITED;
  const rate = bytesPerSecond / 1000;
  const capacity = Math.max(1, Math.floor(bytesPerSecond / 10));
  let tokens = capacity;
  let last = clock.now();
  const refill = (): void => {
    const now = clock.now();
    tokens = Math.min(capacity, tokens + (now - last) * rate);
    last = now;
  };
  return {
    async take(bytes, signal) {
      let left = bytes;
      while (left > 0) {
        signal?.throwIfAborted();
        refill();
        const slice = Math.min(left, capacity);
        if (tokens >= slice) {
          tokens -= slice;
          left -= slice;
          continue;
        }
        await clock.sleep(Math.ceil((slice - tokens) / rate), signal).catch((e: unknown) => {
          signal?.throwIfAborted();
          throw e;
        });
      }
    },
  };
}

const SLICE = 64 * 1024;

/** A request body streaming `data` through `pacer` in 64 KiB slices; it errors when `signal` fires. */
export function pacedBody(data: Buffer, pacer: Pacer, signal?: AbortSignal): Readable {
  async function* slices(): AsyncGenerator<Buffer> {
    for (let at = 0; at < data.length; at += SLICE) {
      const slice = data.subarray(at, Math.min(data.length, at + SLICE));
      await pacer.take(slice.length, signal);
      yield slice;
    }
  }
  return Readable.from(slices(), { objectMode: false });
}
