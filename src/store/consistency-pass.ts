/**
 * The consistency pass that ends every pass of a capture: every captured source is lstat'ed again
 * inside the run's own folders (synchronously, in slices; each folder opened and checked anew, see
 * `RunFolders`) and must still be the version captured. A stale one is removed from the destination
 * and its slot uncaptured; then a vanished source is skipped ("vanished"), one now reached through a
 * folder swapped for a symlink is skipped (`PathSwappedError.REASON`), a changed one recorded as
 * changed, to be captured again on the next pass, or skipped ("kept changing") on the last. When
 * this finds nothing stale, every captured version was current, in the run, at once.
 */
import fsp from 'node:fs/promises';
import type { CaptureSet, Slot } from './capture-set.js';
import { PathSwappedError } from './errors.js';
import { forEachInSlices } from './slices.js';
import { sameSeen, toSeen, type Seen } from './source-seen.js';

/** Re-checks every captured slot (see the file comment); false when a changed file needs another pass. */
export async function recheckCaptured(set: CaptureSet, last: boolean): Promise<boolean> {
  const stale: { slot: Slot; now: Seen | null | PathSwappedError }[] = [];
  const folders = set.runFolders();
  try {
    await forEachInSlices(set.slots, (slot) => {
      if (slot.captured === null) return;
      let now: Seen | null | PathSwappedError;
      try {
        const got = folders.lstat(slot.entry.path);
        now = got === null ? null : toSeen(got.st, got.target);
      } catch (err) {
        if (!(err instanceof PathSwappedError)) throw err;
        now = err;
      }
      if (now === null || now instanceof PathSwappedError || !sameSeen(now, slot.captured)) stale.push({ slot, now });
    });
  } finally {
    folders.close();
  }
  let consistent = true;
  for (const { slot, now } of stale) {
    await fsp.rm(set.dstOf(slot.entry.path), { force: true });
    set.uncapture(slot);
    if (now === null) set.skip(slot, 'vanished');
    else if (now instanceof PathSwappedError) set.skip(slot, PathSwappedError.REASON);
    else {
      set.changed(slot, now);
      if (last) set.skip(slot, 'kept changing');
      else consistent = false;
    }
  }
  return consistent;
}
