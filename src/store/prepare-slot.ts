/**
 * The checks before one file of a pass is captured, and the captures that need no copy, all
 * synchronous. A version that has not settled is judged from a fresh lstat: gone, it is skipped
 * "vanished"; another version than the slot's expected one is a change (recorded, retried on the
 * next pass; skipped "kept changing" on the last); else it waits (skipped "kept changing (why)" on
 * the last). A symlink is decided from an lstat inside the run's own folder (`RunFolders`; a
 * swapped folder: skipped `PathSwappedError.REASON`) and recreated. A file whose scan entry is
 * unchanged since the previous snapshot (`unchangedSince`) has the stored file linked at once: the
 * link reads nothing of the source, and the consistency pass that ends the pass proves, inside the
 * run, that the source is still exactly that version (size, mtime, mode, inode, ctime), else it
 * removes the link again (`consistency-pass.ts`), so no lstat is spent on it here. What is left is a
 * copy, which the caller makes (`capture-small.ts`, `capture-large.ts`) and whose failure
 * `copyFailed` judges: the copy checks the open source against the slot's entry itself
 * (`captureFile`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { DONE, RETRY, type CaptureSet, type Outcome, type Slot } from './capture-set.js';
import { LINKED, linkOne } from './link-workers.js';
import { FileChangedError, FileVanishedError, PathSwappedError, withPath } from './errors.js';
import { lstatSeen, sameVersion, seenOfEntry, type Seen } from './source-seen.js';
import { storedMode } from './stored-mode.js';
import { unchangedSince } from './unchanged-since.js';

/** A slot after `prepareSlot`: finished, left for the next pass, or to be copied (its folder made). */
export type Prepared = Outcome | { kind: 'copy' };

const COPY: Prepared = { kind: 'copy' };

/**
 * The checks before a capture, and the captures that need no copy (symlinks, links from the
 * previous snapshot): done when the slot is captured or skipped, retry when its source changed
 * (captured again on the next pass), else copy.
 */
export function prepareSlot(set: CaptureSet, slot: Slot, last: boolean): Prepared {
  const e = slot.entry;
  if (e.type === 'symlink') return prepareSymlink(set, slot, last);
  if (slot.unsettled !== null) return unsettledOrChanged(set, slot, last, lstatSeen(set.srcOf(e.path)));
  set.dirs.make(path.posix.dirname(e.path));
  const p = set.previous === null ? null : slot.prev;
  // `unchangedSince` holds only for an entry with a ctime: it is its own `Seen`.
  if (unchangedSince(p, e) && linkStored(set.storedOf(p!.path), set.dstOf(e.path), e, set.previous!.sealedUs)) {
    set.linked(slot, seenOfEntry(e)!, p!);
    return DONE;
  }
  return COPY;
}

/** A symlink: read inside the run's own folder (no open file to check afterwards), then recreated. */
function prepareSymlink(set: CaptureSet, slot: Slot, last: boolean): Outcome {
  let seen: Seen | null;
  try {
    seen = set.inRunSeen(slot);
  } catch (err) {
    if (err instanceof PathSwappedError) return set.skip(slot, PathSwappedError.REASON);
    throw err;
  }
  if (seen === null || !sameVersion(seen, slot.entry) || slot.unsettled !== null) return unsettledOrChanged(set, slot, last, seen);
  set.dirs.make(path.posix.dirname(slot.entry.path));
  const dst = set.dstOf(slot.entry.path);
  try {
    fs.symlinkSync(seen.target!, dst);
  } catch (err) {
    throw withPath(err, 'creating', dst);
  }
  set.symlinked(slot, seen);
  return DONE;
}

/**
 * A slot whose source is gone (`seen` null: skipped "vanished"), is another version than expected
 * (a change: retried, skipped "kept changing" on the last pass), or has not settled (retried,
 * skipped "kept changing (why)" on the last pass).
 */
function unsettledOrChanged(set: CaptureSet, slot: Slot, last: boolean, seen: Seen | null): Outcome {
  if (seen === null) return set.skip(slot, 'vanished');
  if (!sameVersion(seen, slot.entry)) {
    set.changed(slot, seen);
    return last ? set.skip(slot, 'kept changing') : RETRY;
  }
  return last ? set.skip(slot, `kept changing (${slot.unsettled})`) : RETRY;
}

/**
 * After a copy failed: a vanished source is skipped, a changed one captured again on the next
 * pass (skipped on the last); other errors are thrown.
 */
export function copyFailed(set: CaptureSet, slot: Slot, last: boolean, err: unknown): Outcome {
  if (err instanceof FileVanishedError) return set.skip(slot, 'vanished');
  if (err instanceof PathSwappedError) return set.skip(slot, PathSwappedError.REASON);
  if (!(err instanceof FileChangedError)) throw err;
  const now = lstatSeen(set.srcOf(slot.entry.path));
  if (now === null) return set.skip(slot, 'vanished');
  set.changed(slot, now);
  return last ? set.skip(slot, `kept changing (${err.changes.join(', ')})`) : RETRY;
}

/**
 * Hard-links a stored file of the previous snapshot; false when it is gone, resized, has another
 * mode than a copy of the version `seen` would get, was written after `sealedUs`, or cannot be linked.
 */
function linkStored(stored: string, dst: string, seen: { size: number; mode: number }, sealedUs: number): boolean {
  try {
    return linkOne(fs, stored, dst, seen.size, storedMode(seen.mode), sealedUs) === LINKED;
  } catch (err) {
    throw withPath(err, 'linking', dst);
  }
}
