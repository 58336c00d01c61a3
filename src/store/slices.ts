/**
 * Running many cheap synchronous file-system calls without holding the event loop: a promise per
 * call costs a thread-pool round trip, several times the call itself for an lstat or a link (see
 * `STAT_SLICE` in `scan.ts`), so the calls run synchronously in slices of a few milliseconds and the
 * rest of the process gets its turn between slices.
 */

/**
 * Time budget of one slice. A slice always does at least one item, so a call that blocks (a cold
 * read, a busy journal) can stretch it by that one call.
 */
export const SLICE_MS = 4;

/** Resolves on the next turn of the event loop, after pending I/O callbacks and timers have run. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** When `forEachInSlices` ends a slice early, and how it waits before the next one. */
export interface SliceControl {
  /** Checked after each item: true ends the slice before its time is up (e.g. too much in flight). */
  full?: () => boolean;
  /** Awaited between slices instead of `nextTurn()`; must resolve once `full()` is false again. */
  pause?: () => Promise<void>;
}

/**
 * Calls `fn` on each item in order, synchronously in slices of about `SLICE_MS`, waiting between
 * slices (`nextTurn()`, or `control.pause()`). An exception from `fn` ends the loop and is thrown
 * as is; the items after it are not visited.
 */
export async function forEachInSlices<T>(items: readonly T[], fn: (item: T) => void, control: SliceControl = {}): Promise<void> {
  let i = 0;
  while (i < items.length) {
    const end = performance.now() + SLICE_MS;
    do fn(items[i++]!);
    while (i < items.length && performance.now() < end && !(control.full?.() ?? false));
    if (i < items.length) await (control.pause ? control.pause() : nextTurn());
  }
}
