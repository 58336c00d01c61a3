/**
 * One pass over the large files of a capture (over `SMALL_FILE`): `HASH_WORKERS` at a time, each
 * copied by the kernel while a worker thread hashes it (`captureFile`), progress reported as the
 * bytes go.
 *
 * Contract: each item is prepared (`prepare-slot.ts`) and, if it needs one, copied; the outcomes
 * come back in the order they finished. Once the capture has an error no new file is started;
 * every copy already running is awaited before this returns or throws (`runPools`).
 */
import { captureFile } from './capture-file.js';
import type { CaptureSet, Outcome, Slot } from './capture-set.js';
import { DONE } from './capture-set.js';
import { HASH_WORKERS } from './hash-workers.js';
import { copyFailed, prepareSlot } from './prepare-slot.js';
import { storedMode } from './stored-mode.js';
import { runPools } from '../util/run-pools.js';

/** Large files: `HASH_WORKERS` at a time, each reported to `onProgress` once done. */
export async function captureLarge(set: CaptureSet, items: Slot[], last: boolean): Promise<Outcome[]> {
  return runPools([{ items, parallel: HASH_WORKERS }], async (s) => {
    set.throwIfFailed();
    const outcome = await captureOneLarge(set, s, last);
    set.report();
    return outcome;
  });
}

/** One large file: the kernel copies it while a worker thread hashes it (`captureFile`). */
async function captureOneLarge(set: CaptureSet, slot: Slot, last: boolean): Promise<Outcome> {
  const prepared = prepareSlot(set, slot, last);
  if (prepared.kind !== 'copy') return prepared;
  try {
    const c = await captureFile(set.srcOf(slot.entry.path), set.dstOf(slot.entry.path), slot.entry, {
      mode: storedMode(slot.entry.mode),
      inRun: set.realOf(slot.entry.path),
      onBytes: (n) => {
        set.progressed(n);
        set.report();
      },
    });
    set.copied(slot, c);
    return DONE;
  } catch (err) {
    return copyFailed(set, slot, last, err);
  }
}
