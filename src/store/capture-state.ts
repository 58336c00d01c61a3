/**
 * Capturing a multi-file state as ONE generation into a folder: every file is copied, hard-linked
 * from the previous snapshot, or (symlinks) recreated; then every source is stat'ed again. A file
 * whose source changed since it was captured is captured again after a pause, until a full pass
 * finds nothing changed: at that moment every captured version was the current one at once, so the
 * set is consistent. Files that keep changing are left out on the last pass and reported. A capture
 * that took a later version of some file follows that later state whole: the files that appeared
 * with it (a new save folder beside the pointer the trainer rewrote) are captured too (`rescan`),
 * or left out and reported, never silently missing from a snapshot that looks complete.
 *
 * A file is copied only once it is settled (SPEC section 1): its mtime at least `settle` old, no
 * process holding it open for writing, and, for a version that appeared during the capture,
 * unchanged for `settle` since. The first pass checks this too, not only the retries. A trainer that writes half a checkpoint in place and pauses with the file open is never
 * stored half-written: it is waited for, and skipped on the last pass if still open.
 *
 * Nothing outside the run is read: each copied source is checked, once open, to really be the run's
 * file at its path, and symlinks and links from the previous snapshot are decided from an lstat
 * inside the run's own folder (`opened-path.ts`). A file reached through a folder swapped for a
 * symlink is skipped.
 *
 * Only the files that changed are recaptured on a retry (the rest are still current, which the
 * final pass re-checks), so a changing 1 KB JSON does not cost a second copy of a 10 GB optimizer.
 *
 * A small file takes a dozen system calls, a link four; run as a promise each, their thread-pool
 * round trips cost more than the calls themselves (docs/BENCHMARKS.md). So small files and
 * symlinks are captured, links made and every source lstat'ed synchronously, in slices of a few
 * milliseconds (see `slices.ts`); only the fsync of each small copy and the copies of large files
 * go to the thread pool. A pass with thousands of unchanged files links them first, on this thread
 * and a worker, a folder at a time (`link-unchanged.ts`); one with thousands of small copies made
 * durable by a syncfs shares them with a worker the same way (`split-small.ts`). A capture that copies `BULK_SYNC_FILES` small files or more skips their
 * fsyncs and makes everything durable at the end with one syncfs of the store's file system
 * (`sync-fs.ts`): an fsync costs a flush of the disk's cache each, which made 100,000 small files
 * take 3-4x as long as `cp -a` + `sync`.
 *
 * This file only coordinates the passes; each job has its own file: the state of the capture and
 * its counters (`capture-set.ts`), the settled judgement and the pause between passes
 * (`settle-changed.ts`), the checks before each file and the captures that need no copy
 * (`prepare-slot.ts`), the small files in slices (`capture-small.ts`), the large files in a pool
 * (`capture-large.ts`), and the consistency pass (`consistency-pass.ts`).
 */
import fs from 'node:fs';
import type { KnownBefore } from '../policy/emptied-file.js';
import path from 'node:path';
import { captureLarge } from './capture-large.js';
import { CaptureSet, type Outcome } from './capture-set.js';
import { captureSmall, isSmall } from './capture-small.js';
import { recheckCaptured } from './consistency-pass.js';
import { withPath } from './errors.js';
import { isSafeRelPath } from './layout.js';
import type { FindWriters } from './open-writers.js';
import { linkUnchanged } from './link-unchanged.js';
import { judgeChanged, lastKnownOnce, otherWriters, settleWait } from './settle-changed.js';
import { canSyncFileSystem } from './sync-fs.js';
import type { ManifestEntry, ScanEntry } from './types.js';
import { unchangedSince } from './unchanged-since.js';

/**
 * Small copies from which a capture makes them durable with one syncfs instead of an fsync each:
 * below, the fsyncs cost less than a flush of whatever else the file system holds unwritten.
 */
export const BULK_SYNC_FILES = 1000;

/** What `captureState` captures, from where, into where. */
export interface CaptureStateOptions {
  runDir: string;
  /** The scanned state: the versions expected on the first pass. */
  entries: ScanEntry[];
  /** Existing, empty folder that receives the files at their relative paths. */
  dest: string;
  /**
   * The previous snapshot's `files/` folder and manifest: unchanged files are hard-linked from it,
   * when not modified after `sealedUs` (its `snapshot.json`'s mtime, whole microseconds since the epoch).
   * `leftOut`: the paths it left out (its `skipped`), whose last version it does not know.
   */
  previous: { filesDir: string; files: ManifestEntry[]; sealedUs: number; leftOut?: readonly string[] } | null;
  /** What newer snapshots than `previous` knew of a few files (see `WriteSnapshotOptions.lastKnown`). */
  lastKnown?: (paths: readonly string[]) => Promise<Map<string, KnownBefore>>;
  /** Extra passes after the first when sources changed. */
  retries: number;
  /**
   * Pause before retry k (0-based) is `retryDelayMs * 2^k`, or longer when a changed file needs
   * longer to settle (at most `settleMs`).
   */
  retryDelayMs: number;
  /**
   * The run's `settle` (ms). `entries` must be a settled state (the caller judged it); a file that
   * changed during the capture is captured again only once it is settled (see the file comment).
   */
  settleMs: number;
  /**
   * Processes holding any of `paths` (absolute), or a file under one of them, open for writing
   * (asked about the run's real folder, with the judged files for a match by inode). Default:
   * `findOpenWriters` without this process (which holds only its own copies open).
   */
  openWriters?: FindWriters;
  /**
   * The run's state as a scan with the caller's rules finds it now (path order). Once a file was
   * captured at a later version than `entries` holds, the capture follows that later state: a pass
   * that found everything consistent asks this for the files that appeared meanwhile (a trainer's
   * new save beside the pointer it rewrote), which are then captured once settled, or skipped
   * ("appeared during the capture") on the last pass. Without it, such files are not looked for.
   */
  rescan?: () => Promise<ScanEntry[]>;
  /** Bytes done so far and the bytes to do (grows when files are captured again). */
  onProgress?: (done: number, total: number) => void;
}

/** What `captureState` put in `dest`, and what it left out. */
export interface CapturedState {
  /** Manifest of the stored files, sorted by path. */
  files: ManifestEntry[];
  /** The versions that were captured, as scan entries (for `stateDigest`). */
  entries: ScanEntry[];
  skipped: { path: string; reason: string }[];
  copiedBytes: number;
  linkedBytes: number;
  /** Every folder created under `dest` (absolute, `dest` included), for fsync. */
  dirs: string[];
  /**
   * True when everything under `dest` was made durable at once (one syncfs, see `BULK_SYNC_FILES`):
   * the folders of `dirs` need no fsync of their own.
   */
  synced: boolean;
}

/**
 * Captures `entries` of `runDir` into `dest` as one consistent generation (see the file comment).
 * File modes: the source's read and execute bits, never a write bit (`storedMode`: 0o600 -> 0o400,
 * 0o755 -> 0o555); folders 0o755. Files reached through a folder swapped for a symlink are skipped
 * (`PathSwappedError.REASON`), as are files still changing or open for writing on the last pass
 * ("kept changing (...)") and vanished ones ("vanished"). Every copied file is
 * durable before this returns (fsynced, or all at once by a syncfs, then `synced` says so);
 * folders are not fsynced (the caller fsyncs `dirs` once everything is in place, unless
 * `synced`), nor are links and symlinks (new names only, made durable by the folders' fsync). On an
 * error other than a changed or vanished source, throws once nothing it started is still running,
 * leaving `dest` for the caller to remove.
 */
export async function captureState(opts: CaptureStateOptions): Promise<CapturedState> {
  for (const e of opts.entries) if (!isSafeRelPath(e.path)) throw new Error(`refusing to capture unsafe path ${JSON.stringify(e.path)}`);
  const runReal = runRealOf(opts.runDir);
  const set = new CaptureSet(opts, runReal);
  if (smallCopies(set) >= BULK_SYNC_FILES && (await canSyncFileSystem(opts.dest))) set.deferSyncs();
  const rule = { runReal, settleMs: opts.settleMs, openWriters: opts.openWriters ?? otherWriters, leftOutBefore: new Set(opts.previous?.leftOut ?? []), emptiedDuring: set.emptiedDuring, lastKnown: lastKnownOnce(opts.lastKnown) };
  for (let attempt = 0; attempt <= opts.retries; attempt++) {
    const last = attempt === opts.retries;
    const todo = set.pending();
    await judgeChanged(todo, attempt === 0, rule);
    const failed = (err: unknown): [] => {
      set.fail(err);
      return [];
    };
    let small: Outcome[];
    let large: Outcome[];
    try {
      const rest = await linkUnchanged(set, todo);
      // Split before either starts: `captureSmall` runs its first slice at once, and a file it finds
      // changed (perhaps grown past SMALL_FILE) is a version the judgement never saw. It waits for
      // the next pass, not for `captureLarge` to copy it in this one.
      const smallSlots = rest.filter(isSmall);
      const largeSlots = rest.filter((s) => !isSmall(s));
      [small, large] = await Promise.all([captureSmall(set, smallSlots, last).catch(failed), captureLarge(set, largeSlots, last).catch(failed)]);
    } finally {
      set.folders.close();
    }
    set.throwIfFailed();
    const allDone = [...small, ...large].every((o) => o.kind === 'done');
    // Always run: it is what makes the set consistent, even after a clean pass.
    const consistent = await recheckCaptured(set, last);
    if (allDone && consistent && !(await takeAppeared(set, opts.rescan, last))) break;
    await new Promise((r) => setTimeout(r, Math.max(opts.retryDelayMs * 2 ** attempt, settleWait(set.slots, opts.settleMs))));
  }
  // A folder made for files all left out in the end would be an extra, empty folder of the snapshot.
  if (set.slots.some((s) => s.captured === null)) set.dirs.removeEmpty();
  await set.syncUnsynced();
  return set.result();
}

/**
 * After a consistent pass of a capture that moved on to a later state: whether files of that state
 * appeared that it does not hold yet (given slots: captured on the next pass, or skipped on the last).
 */
async function takeAppeared(set: CaptureSet, rescan: CaptureStateOptions['rescan'], last: boolean): Promise<boolean> {
  if (rescan === undefined || !set.movedOn) return false;
  return set.appeared(await rescan(), last) > 0;
}

/** How many small files the capture expects to copy: those the previous snapshot does not hold unchanged. */
function smallCopies(set: CaptureSet): number {
  let n = 0;
  for (const s of set.slots) if (s.entry.type === 'file' && isSmall(s) && !(set.previous !== null && unchangedSince(s.prev, s.entry))) n++;
  return n;
}

/** The real path of the run's folder: every source must really be under it. */
function runRealOf(runDir: string): string {
  try {
    return fs.realpathSync(runDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A run folder removed since the scan: every file of it is reported as vanished.
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw withPath(err, 'cannot resolve', runDir);
    return path.resolve(runDir);
  }
}
