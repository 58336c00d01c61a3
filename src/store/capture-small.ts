/**
 * One pass over the small files and symlinks of a capture. A small file takes a dozen system calls,
 * a link four; run as a promise each, their thread-pool round trips cost more than the calls
 * themselves (docs/BENCHMARKS.md). So they are prepared and copied synchronously, in slices of a
 * few milliseconds (`slices.ts`), and only the fsync of each copy goes to the thread pool, at most
 * `SMALL_SYNCING` at once; or, once the capture defers its syncs (`CaptureSet.deferSyncs`: many
 * small copies), each copy is closed at once and made durable with the others at the end. A pass
 * of `SPLIT_FROM` small files or more whose syncs are deferred shares its copies with one worker
 * thread, the same copy and checks on the second core (`split-small.ts`).
 *
 * Contract: each item is prepared (`prepare-slot.ts`) and, if it needs one, copied, in order (in
 * two orders at once when shared with the worker); the outcomes come back in the items' order. Stops before the next item once the capture has an error
 * (thrown). Returns or throws only once every fsync it started is done (an fsync's error goes to
 * the capture's errors, never lost).
 */
import { copySmallFileSync, SMALL_FILE, type PendingCopy } from './capture-file.js';
import type { CaptureSet, Outcome, Slot } from './capture-set.js';
import { FileVanishedError } from './errors.js';
import { DONE } from './capture-set.js';
import { copyFailed, prepareSlot } from './prepare-slot.js';
import { storedMode } from './stored-mode.js';
import { forEachInSlices, nextTurn } from './slices.js';
import { captureSplit, splitsSmallCopies, type CopyHere } from './split-small.js';

/**
 * Small copies (up to `SMALL_FILE`, and symlinks: captured synchronously, in slices) whose fsync may
 * be in flight at once, each holding an open fd until it is done. Larger files go `HASH_WORKERS` at a time.
 */
const SMALL_SYNCING = 16;

/** Whether a slot is captured here (a file up to `SMALL_FILE`, or a symlink) rather than by `captureLarge`. */
export function isSmall(s: Slot): boolean {
  return s.entry.size <= SMALL_FILE || s.entry.type === 'symlink';
}

/** Small files and symlinks: synchronously in slices; returns once every fsync it started is done. */
export async function captureSmall(set: CaptureSet, items: Slot[], last: boolean): Promise<Outcome[]> {
  const syncing = new Set<Promise<void>>();
  const here: CopyHere = {
    one: (slot) => captureOne(set, slot, last, syncing),
    copy: (slot) => copyPrepared(set, slot, last, syncing),
  };
  // The syncs are deferred there: no fsync is started.
  if (splitsSmallCopies(set, items)) return captureSplit(set, items, last, here);
  const outcomes: Outcome[] = [];
  try {
    await forEachInSlices(
      items,
      (slot) => {
        set.throwIfFailed();
        outcomes.push(here.one(slot));
        set.report();
      },
      {
        full: () => syncing.size >= SMALL_SYNCING,
        // Waiting for one fsync to finish also lets the rest of the process have its turn.
        pause: () => (syncing.size >= SMALL_SYNCING ? Promise.race(syncing) : nextTurn()),
      },
    );
  } finally {
    // Never rejects (each one's error went to the capture's errors).
    await Promise.all(syncing);
  }
  return outcomes;
}

/** A slot prepared (`prepareSlot`), then copied on this thread if it needs a copy. */
function captureOne(set: CaptureSet, slot: Slot, last: boolean, syncing: Set<Promise<void>>): Outcome {
  const prepared = prepareSlot(set, slot, last);
  return prepared.kind === 'copy' ? copyPrepared(set, slot, last, syncing) : prepared;
}

/**
 * The copy of a prepared slot on this thread, closed at once when the syncs are deferred, else its
 * fsync started in the thread pool and added to `syncing` (its error goes to the capture's errors).
 */
function copyPrepared(set: CaptureSet, slot: Slot, last: boolean, syncing: Set<Promise<void>>): Outcome {
  const rel = slot.entry.path;
  let copy: PendingCopy;
  try {
    copy = copyInRun(set, slot);
  } catch (err) {
    return copyFailed(set, slot, last, err);
  }
  if (set.syncsDeferred) {
    // Throws (the copy removed) when even the close reports a write error.
    copy.close();
    set.unsyncedCopy(rel);
    set.copied(slot, copy);
    set.progressed(copy.size);
    return DONE;
  }
  set.copied(slot, copy);
  set.progressed(copy.size);
  const syncs: Promise<void> = copy
    .sync()
    .catch((err: unknown) => set.fail(err))
    .finally(() => syncing.delete(syncs));
  syncing.add(syncs);
  return DONE;
}

/**
 * The small copy of a slot's file, opened inside its checked folder of the run when /proc/self/fd
 * allows (no check per file); one gone from that folder is looked for once more in a fresh open of
 * it (the folder may have been removed and made again since it was opened).
 */
function copyInRun(set: CaptureSet, slot: Slot): PendingCopy {
  const rel = slot.entry.path;
  const copy = (): PendingCopy => {
    const at = set.folders.pathOf(rel);
    return copySmallFileSync(set.srcOf(rel), set.dstOf(rel), slot.entry, storedMode(slot.entry.mode), at === null ? set.realOf(rel) : { at });
  };
  try {
    return copy();
  } catch (err) {
    if (!(err instanceof FileVanishedError)) throw err;
    set.folders.forget(rel);
    return copy();
  }
}
