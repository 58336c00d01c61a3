/**
 * The consistency pass that ends every pass of a capture: every captured source is lstat'ed again
 * (synchronously, in slices) and must still be the version captured. A stale one is removed from the
 * destination and its slot uncaptured; then a vanished source is skipped ("vanished"), a changed one
 * recorded as changed, to be captured again on the next pass, or skipped ("kept changing") on the
 * last. When this finds nothing stale, every captured version was current at once.
 */
import fsp from 'node:fs/promises';
import type { CaptureSet, Slot } from './capture-set.js';
import { forEachInSlices } from './slices.js';
import { lstatSeen, sameSeen, type Seen } from './source-seen.js';

/** Re-checks every captured slot (see the file comment); false when a changed file needs another pass. */
export async function recheckCaptured(set: CaptureSet, last: boolean): Promise<boolean> {
  const stale: { slot: Slot; now: Seen | null }[] = [];
  await forEachInSlices(set.slots, (slot) => {
    if (slot.captured === null) return;
    const now = lstatSeen(set.srcOf(slot.entry.path));
    if (now === null || !sameSeen(now, slot.captured.seen)) stale.push({ slot, now });
  });
  let consistent = true;
  for (const { slot, now } of stale) {
    await fsp.rm(set.dstOf(slot.entry.path), { force: true });
    set.uncapture(slot);
    if (now === null) set.skip(slot, 'vanished');
    else {
      set.changed(slot, now);
      if (last) set.skip(slot, 'kept changing');
      else consistent = false;
    }
  }
  return consistent;
}
