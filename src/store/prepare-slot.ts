/**
 * The checks before one file of a pass is captured, in this order, and the captures that need no
 * copy, all synchronous: the source is lstat'ed (gone: skipped "vanished"); a version other than the
 * slot's expected one is a change (recorded, retried on the next pass; skipped "kept changing" on the
 * last); an unsettled version waits likewise (skipped "kept changing (why)" on the last). A symlink,
 * or a file unchanged since the previous snapshot, is then decided from an lstat inside the run's own
 * folder (`opened-path.ts`; a swapped folder: skipped `PathSwappedError.REASON`), since no open file
 * is checked afterwards. Then its folder is made, and a symlink is recreated or the stored file
 * linked; what is left is a copy, which the caller makes (`capture-small.ts`, `capture-large.ts`)
 * and whose failure `copyFailed` judges.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DONE, RETRY, type CaptureSet, type Outcome, type Slot } from './capture-set.js';
import { FileChangedError, FileVanishedError, PathSwappedError, withPath } from './errors.js';
import { lstatSeen, sameSeen, sameVersion, type Seen } from './source-seen.js';
import { unchangedSince } from './unchanged-since.js';

/** A slot after `prepareSlot`: finished, left for the next pass, or to be copied from the version `seen`. */
export type Prepared = Outcome | { kind: 'copy'; seen: Seen };

/**
 * The checks before a capture, and the captures that need no copy (symlinks, links from the
 * previous snapshot): done when the slot is captured or skipped, retry when its source changed
 * (captured again on the next pass), else copy, with the source's lstat.
 */
export function prepareSlot(set: CaptureSet, slot: Slot, last: boolean): Prepared {
  const src = set.srcOf(slot.entry.path);
  const dst = set.dstOf(slot.entry.path);
  let seen = lstatSeen(src);
  if (seen === null) return set.skip(slot, 'vanished');
  if (!sameVersion(seen, slot.entry)) {
    set.changed(slot, seen);
    return last ? set.skip(slot, 'kept changing') : RETRY;
  }
  if (slot.unsettled !== null) return last ? set.skip(slot, `kept changing (${slot.unsettled})`) : RETRY;
  const p = set.prev.get(slot.entry.path);
  const linkable = set.previous !== null && unchangedSince(p, seen);
  if (seen.type === 'symlink' || linkable) {
    // No open file to check afterwards: decide from an lstat inside the run's own folder.
    let inRun: Seen | null;
    try {
      inRun = set.inRunSeen(slot);
    } catch (err) {
      if (err instanceof PathSwappedError) return set.skip(slot, PathSwappedError.REASON);
      throw err;
    }
    if (inRun === null) return set.skip(slot, 'vanished');
    if (!sameSeen(inRun, seen)) {
      set.changed(slot, inRun);
      return last ? set.skip(slot, 'kept changing') : RETRY;
    }
    seen = inRun;
  }
  set.dirs.make(path.posix.dirname(slot.entry.path));
  if (seen.type === 'symlink') {
    try {
      fs.symlinkSync(seen.target!, dst);
    } catch (err) {
      throw withPath(err, 'creating', dst);
    }
    set.symlinked(slot, seen);
    return DONE;
  }
  if (linkable && linkStored(path.join(set.previous!.filesDir, p!.path), dst, seen)) {
    set.linked(slot, seen, p!.sha256);
    return DONE;
  }
  return { kind: 'copy', seen };
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
 * The mode of a stored copy of a source with permission bits `mode`: its read and execute bits,
 * never a write bit, so a snapshot is read-only yet no more readable than the run's file was.
 */
export function storedMode(mode: number): number {
  return mode & 0o555;
}

/**
 * Hard-links a stored file of the previous snapshot; false when it is gone, resized, has another
 * mode than a copy of `seen` would get, or cannot be linked.
 */
function linkStored(stored: string, dst: string, seen: Seen): boolean {
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(stored, { throwIfNoEntry: false });
  } catch {
    return false;
  }
  if (!st?.isFile() || st.size !== seen.size || (st.mode & 0o7777) !== storedMode(seen.mode)) return false;
  try {
    fs.linkSync(stored, dst);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // EMLINK: too many links to one inode; EPERM: protected_hardlinks; ENOENT: deleted meanwhile.
    if (code === 'EMLINK' || code === 'EPERM' || code === 'ENOENT' || code === 'EXDEV') return false;
    throw withPath(err, 'linking', dst);
  }
}
