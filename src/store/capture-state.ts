/**
 * Capturing a multi-file state as ONE generation into a folder: every file is copied, hard-linked
 * from the previous snapshot, or (symlinks) recreated; then every source is stat'ed again. A file
 * whose source changed since it was captured is captured again after a pause, until a full pass
 * finds nothing changed: at that moment every captured version was the current one at once, so the
 * set is consistent. Files that keep changing are left out on the last pass and reported.
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
 * go to the thread pool.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { captureFile, copySmallFileSync, SMALL_FILE, type Captured, type PendingCopy } from './capture-file.js';
import { FileChangedError, FileVanishedError, PathSwappedError, withPath } from './errors.js';
import { DIR_MODE, isSafeRelPath } from './layout.js';
import { lstatInRun } from './opened-path.js';
import { findOpenWriters, type OpenWriter } from './open-writers.js';
import { unchangedSince } from './unchanged-since.js';
import { runPools } from '../util/run-pools.js';
import { mtimeMsOf } from '../util/fs.js';
import { HASH_WORKERS } from './hash-workers.js';
import { forEachInSlices, nextTurn } from './slices.js';
import type { ManifestEntry, ScanEntry } from './types.js';

/** What `captureState` captures, from where, into where. */
export interface CaptureStateOptions {
  runDir: string;
  /** The scanned state: the versions expected on the first pass. */
  entries: ScanEntry[];
  /** Existing, empty folder that receives the files at their relative paths. */
  dest: string;
  /** The previous snapshot's `files/` folder and manifest: unchanged files are hard-linked from it. */
  previous: { filesDir: string; files: ManifestEntry[] } | null;
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
   * Processes holding any of `paths` (absolute) open for writing. Default: `findOpenWriters`
   * without this process (which holds only its own copies open).
   */
  openWriters?: (paths: string[]) => Promise<OpenWriter[]>;
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
}

/**
 * Small copies (up to `SMALL_FILE`, and symlinks: captured synchronously, in slices) whose fsync may
 * be in flight at once, each holding an open fd until it is done. Larger files go `HASH_WORKERS` at a time.
 */
const SMALL_SYNCING = 16;

/** A source as lstat saw it: everything that must stay the same for a captured copy to stay current. */
interface Seen {
  type: 'file' | 'symlink';
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  ino: number;
  mode: number;
  target?: string;
}

interface Slot {
  entry: ScanEntry;
  captured: { seen: Seen; manifest: ManifestEntry; how: 'copy' | 'link' | 'symlink' } | null;
  skipped: string | null;
  /**
   * When `entry` (a version that appeared during the capture) was first seen (ms since the epoch);
   * null for the caller's settled version. Such a version is captured only once settled.
   */
  changedAt: number | null;
  /** Why the changed version is not settled yet, from the last check; null when it is. */
  unsettled: string | null;
  /** A process held it open for writing at the last check. */
  heldOpen: boolean;
}

/**
 * Captures `entries` of `runDir` into `dest` as one consistent generation (see the file comment).
 * File modes: the source's read and execute bits, never a write bit (`storedMode`: 0o600 -> 0o400,
 * 0o755 -> 0o555); folders 0o755. Files reached through a folder swapped for a symlink are skipped
 * (`PathSwappedError.REASON`), as are files still changing or open for writing on the last pass
 * ("kept changing (...)") and vanished ones ("vanished"). Every copied file is
 * fsynced before this returns; folders are NOT (the caller fsyncs `dirs` once everything is in
 * place), nor are links and symlinks (new names only, made durable by the folders' fsync). On an
 * error other than a changed or vanished source, throws once nothing it started is still running,
 * leaving `dest` for the caller to remove.
 */
export async function captureState(opts: CaptureStateOptions): Promise<CapturedState> {
  for (const e of opts.entries) if (!isSafeRelPath(e.path)) throw new Error(`refusing to capture unsafe path ${JSON.stringify(e.path)}`);
  const slots = opts.entries.map((entry): Slot => ({ entry, captured: null, skipped: null, changedAt: null, unsettled: null, heldOpen: false }));
  const prev = new Map((opts.previous?.files ?? []).map((f) => [f.path, f]));
  const openWriters = opts.openWriters ?? otherWriters;
  let runReal: string;
  try {
    runReal = fs.realpathSync(opts.runDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A run folder removed since the scan: every file of it is reported as vanished.
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw withPath(err, 'cannot resolve', opts.runDir);
    runReal = path.resolve(opts.runDir);
  }
  /** The real path a source must be opened at, and its lstat inside the run (never through a swapped folder). */
  const realOf = (rel: string): string => path.join(runReal, rel);
  const inRunSeen = (slot: Slot): Seen | null => {
    const got = lstatInRun(opts.runDir, runReal, slot.entry.path);
    return got === null ? null : toSeen(got.st, got.target);
  };
  /** A new version of a slot's file appeared: it must settle before it is captured. */
  const changed = (slot: Slot, now: Seen): void => {
    slot.entry = toEntry(slot.entry.path, now);
    slot.changedAt = Date.now();
  };
  const dirs = new DirMaker(opts.dest);
  let copiedBytes = 0;
  let linkedBytes = 0;
  let done = 0;
  let total = opts.entries.reduce((n, e) => n + e.size, 0);
  /** Errors so far, first one first: after one, nothing new is started and the first is thrown. */
  const failures: unknown[] = [];

  /**
   * The checks before a capture, and the captures that need no copy (symlinks, links from the
   * previous snapshot), synchronously: true when the slot is done (captured or skipped), false
   * when its source changed (captured again on the next pass), else the source's lstat, to copy.
   */
  const prepare = (slot: Slot, last: boolean): boolean | Seen => {
    const src = path.join(opts.runDir, slot.entry.path);
    const dst = path.join(opts.dest, slot.entry.path);
    let seen = lstatSeen(src);
    if (seen === null) return skip(slot, 'vanished');
    if (!sameVersion(seen, slot.entry)) {
      changed(slot, seen);
      return last ? skip(slot, 'kept changing') : false;
    }
    if (slot.unsettled !== null) return last ? skip(slot, `kept changing (${slot.unsettled})`) : false;
    const p = prev.get(slot.entry.path);
    const linkable = opts.previous !== null && unchangedSince(p, seen);
    if (seen.type === 'symlink' || linkable) {
      // No open file to check afterwards: decide from an lstat inside the run's own folder.
      let inRun: Seen | null;
      try {
        inRun = inRunSeen(slot);
      } catch (err) {
        if (err instanceof PathSwappedError) return skip(slot, PathSwappedError.REASON);
        throw err;
      }
      if (inRun === null) return skip(slot, 'vanished');
      if (!sameSeen(inRun, seen)) {
        changed(slot, inRun);
        return last ? skip(slot, 'kept changing') : false;
      }
      seen = inRun;
    }
    dirs.make(path.posix.dirname(slot.entry.path));
    if (seen.type === 'symlink') {
      try {
        fs.symlinkSync(seen.target!, dst);
      } catch (err) {
        throw withPath(err, 'creating', dst);
      }
      const manifest = { ...manifestOf(slot.entry, seen, sha256Text(seen.target!)), type: 'symlink' as const, target: seen.target! };
      slot.captured = { seen, manifest, how: 'symlink' };
      done += seen.size;
      return true;
    }
    if (linkable && linkStored(path.join(opts.previous!.filesDir, p!.path), dst, seen)) {
      slot.captured = { seen, manifest: manifestOf(slot.entry, seen, p!.sha256), how: 'link' };
      linkedBytes += seen.size;
      done += seen.size;
      return true;
    }
    return seen;
  };

  const copied = (slot: Slot, seen: Seen, c: Captured): void => {
    const version = { ...seen, ctimeNs: c.ctimeNs };
    slot.captured = { seen: version, manifest: manifestOf(slot.entry, version, c.sha256), how: 'copy' };
    copiedBytes += c.size;
  };

  /**
   * After a copy failed: a vanished source is skipped, a changed one captured again on the next
   * pass (skipped on the last); other errors are thrown.
   */
  const copyFailed = (slot: Slot, last: boolean, err: unknown): boolean => {
    if (err instanceof FileVanishedError) return skip(slot, 'vanished');
    if (err instanceof PathSwappedError) return skip(slot, PathSwappedError.REASON);
    if (!(err instanceof FileChangedError)) throw err;
    const now = lstatSeen(path.join(opts.runDir, slot.entry.path));
    if (now === null) return skip(slot, 'vanished');
    changed(slot, now);
    return last ? skip(slot, `kept changing (${err.changes.join(', ')})`) : false;
  };

  /** Small files and symlinks: synchronously in slices; returns once every fsync it started is done. */
  const captureSmall = async (items: Slot[], last: boolean, results: boolean[]): Promise<void> => {
    const syncing = new Set<Promise<void>>();
    const captureOne = (slot: Slot): boolean => {
      const seen = prepare(slot, last);
      if (typeof seen === 'boolean') return seen;
      let copy: PendingCopy;
      try {
        const rel = slot.entry.path;
        copy = copySmallFileSync(path.join(opts.runDir, rel), path.join(opts.dest, rel), slot.entry, storedMode(seen.mode), realOf(rel));
      } catch (err) {
        return copyFailed(slot, last, err);
      }
      copied(slot, seen, copy);
      done += copy.size;
      const syncs: Promise<void> = copy
        .sync()
        .catch((err: unknown) => void failures.push(err))
        .finally(() => syncing.delete(syncs));
      syncing.add(syncs);
      return true;
    };
    try {
      await forEachInSlices(
        items,
        (slot) => {
          if (failures.length > 0) throw failures[0];
          results.push(captureOne(slot));
          opts.onProgress?.(done, total);
        },
        {
          full: () => syncing.size >= SMALL_SYNCING,
          // Waiting for one fsync to finish also lets the rest of the process have its turn.
          pause: () => (syncing.size >= SMALL_SYNCING ? Promise.race(syncing) : nextTurn()),
        },
      );
    } finally {
      // Never rejects (each one's error went to `failures`).
      await Promise.all(syncing);
    }
  };

  /** One large file: the kernel copies it while a worker thread hashes it (`captureFile`). */
  const captureLarge = async (slot: Slot, last: boolean): Promise<boolean> => {
    const seen = prepare(slot, last);
    if (typeof seen === 'boolean') return seen;
    try {
      const c = await captureFile(path.join(opts.runDir, slot.entry.path), path.join(opts.dest, slot.entry.path), slot.entry, {
        mode: storedMode(seen.mode),
        inRun: realOf(slot.entry.path),
        onBytes: (n) => {
          done += n;
          opts.onProgress?.(done, total);
        },
      });
      copied(slot, seen, c);
      return true;
    } catch (err) {
      return copyFailed(slot, last, err);
    }
  };

  /**
   * Judges each changed file of `items` settled or not (`unsettled`, `heldOpen`): quiet for
   * `settleMs` since its version was first seen, mtime at least `settleMs` old, not open for writing.
   */
  const judgeChanged = async (items: Slot[], first: boolean): Promise<void> => {
    const now = Date.now();
    // The first pass judges every file as well: the caller's verdict is a moment old, and a writer
    // may have opened a file since without changing it yet.
    const changedSlots = items.filter((s) => s.changedAt !== null || (first && s.entry.type === 'file'));
    for (const s of changedSlots) {
      const quiet = s.changedAt === null ? opts.settleMs : now - s.changedAt;
      const age = now - mtimeMsOf(s.entry.mtimeNs);
      s.heldOpen = false;
      // A negative age is a clock skew or a file stamped in the future: do not wait for it forever.
      s.unsettled = quiet < opts.settleMs ? `changed ${quiet}ms ago` : age >= 0 && age < opts.settleMs ? `modified ${age}ms ago` : null;
      if (s.unsettled !== null && s.changedAt === null) s.changedAt = now;
    }
    if (changedSlots.length === 0) return;
    const byPath = new Map(changedSlots.map((s) => [path.join(opts.runDir, s.entry.path), s]));
    for (const w of await openWriters([...byPath.keys()])) {
      const s = byPath.get(w.path);
      if (s === undefined || s.heldOpen) continue;
      s.heldOpen = true;
      s.unsettled = `open for writing by pid ${w.pid} (${w.command})`;
      s.changedAt ??= now;
    }
  };

  /** How long the changed files still pending need before they can be settled (at most `settleMs`). */
  const settleWait = (): number => {
    const now = Date.now();
    let wait = 0;
    for (const s of slots) {
      if (s.captured !== null || s.skipped !== null || s.changedAt === null) continue;
      wait = Math.max(wait, s.heldOpen ? opts.settleMs : opts.settleMs - (now - s.changedAt), opts.settleMs - Math.max(0, now - mtimeMsOf(s.entry.mtimeNs)));
    }
    return Math.min(Math.max(0, wait), opts.settleMs);
  };

  for (let attempt = 0; attempt <= opts.retries; attempt++) {
    const last = attempt === opts.retries;
    const todo = slots.filter((s) => s.captured === null && s.skipped === null);
    await judgeChanged(todo, attempt === 0);
    const isSmall = (s: Slot): boolean => s.entry.size <= SMALL_FILE || s.entry.type === 'symlink';
    const results: boolean[] = [];
    const fail = (err: unknown): void => void failures.push(err);
    await Promise.all([
      captureSmall(todo.filter(isSmall), last, results).catch(fail),
      runPools([{ items: todo.filter((s) => !isSmall(s)), parallel: HASH_WORKERS }], async (s) => {
        if (failures.length > 0) throw failures[0];
        const ok = await captureLarge(s, last);
        opts.onProgress?.(done, total);
        return ok;
      }).then((r) => void results.push(...r), fail),
    ]);
    if (failures.length > 0) throw failures[0];
    let clean = results.every(Boolean);

    // The consistency pass: every captured source must still be the version captured.
    const stale: { slot: Slot; captured: NonNullable<Slot['captured']>; now: Seen | null }[] = [];
    await forEachInSlices(slots, (slot) => {
      if (slot.captured === null) return;
      const now = lstatSeen(path.join(opts.runDir, slot.entry.path));
      if (now === null || !sameSeen(now, slot.captured.seen)) stale.push({ slot, captured: slot.captured, now });
    });
    for (const { slot, captured, now } of stale) {
      await fsp.rm(path.join(opts.dest, slot.entry.path), { force: true });
      if (captured.how === 'copy') copiedBytes -= captured.seen.size;
      if (captured.how === 'link') linkedBytes -= captured.seen.size;
      total += slot.entry.size;
      slot.captured = null;
      if (now === null) skip(slot, 'vanished');
      else {
        changed(slot, now);
        if (last) skip(slot, 'kept changing');
        else clean = false;
      }
    }
    if (clean) break;
    await new Promise((r) => setTimeout(r, Math.max(opts.retryDelayMs * 2 ** attempt, settleWait())));
  }

  const kept = slots.filter((s) => s.captured !== null);
  return {
    files: kept.map((s) => s.captured!.manifest),
    entries: kept.map((s) => toEntry(s.entry.path, s.captured!.seen)),
    skipped: slots.filter((s) => s.skipped !== null).map((s) => ({ path: s.entry.path, reason: s.skipped! })),
    copiedBytes,
    linkedBytes,
    dirs: dirs.created(),
  };
}

function skip(slot: Slot, reason: string): true {
  slot.skipped = reason;
  return true;
}

/**
 * The mode of a stored copy of a source with permission bits `mode`: its read and execute bits,
 * never a write bit, so a snapshot is read-only yet no more readable than the run's file was.
 */
export function storedMode(mode: number): number {
  return mode & 0o555;
}

/** Processes other than this one holding any of `paths` open for writing. */
async function otherWriters(paths: string[]): Promise<OpenWriter[]> {
  return (await findOpenWriters(paths)).filter((w) => w.pid !== process.pid);
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

/** The lstat of a source (and its target, for a symlink), or null when it is gone or neither a file nor a symlink. */
function lstatSeen(file: string): Seen | null {
  try {
    const st = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
    if (st === undefined) return null;
    return toSeen(st, st.isSymbolicLink() ? fs.readlinkSync(file) : undefined);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EINVAL') return null;
    throw withPath(err, 'cannot stat', file);
  }
}

/** A file's or symlink's lstat (with the symlink's target) as a `Seen`; null for other kinds. */
function toSeen(st: fs.BigIntStats, target: string | undefined): Seen | null {
  if (!st.isFile() && !st.isSymbolicLink()) return null;
  const seen: Seen = {
    type: st.isFile() ? 'file' : 'symlink',
    size: Number(st.size),
    mtimeNs: st.mtimeNs.toString(),
    ctimeNs: st.ctimeNs.toString(),
    ino: Number(st.ino),
    mode: Number(st.mode & 0o7777n),
  };
  if (seen.type === 'symlink') seen.target = target;
  return seen;
}

/** Whether `s` is the version `e` describes (its ctime too, when `e` has one: a `touch -r` rewrite moves it). */
function sameVersion(s: Seen, e: ScanEntry): boolean {
  return (
    s.type === e.type &&
    s.size === e.size &&
    s.mtimeNs === e.mtimeNs &&
    s.ino === e.ino &&
    s.mode === e.mode &&
    s.target === e.target &&
    (e.ctimeNs === undefined || s.ctimeNs === e.ctimeNs)
  );
}

function sameSeen(a: Seen, b: Seen): boolean {
  return a.type === b.type && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino && a.mode === b.mode && a.target === b.target;
}

function toEntry(rel: string, s: Seen): ScanEntry {
  const e: ScanEntry = { path: rel, type: s.type, size: s.size, mtimeNs: s.mtimeNs, ino: s.ino, mode: s.mode, ctimeNs: s.ctimeNs };
  if (s.target !== undefined) e.target = s.target;
  return e;
}

/** The manifest entry of `e`, captured as the version `seen` (its inode and ctime let the next snapshot link it). */
function manifestOf(e: ScanEntry, seen: Seen, sha256: string): ManifestEntry {
  return { path: e.path, size: e.size, sha256, mode: e.mode, mtime_ns: e.mtimeNs, ino: seen.ino, ctime_ns: seen.ctimeNs };
}

function sha256Text(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/**
 * Creates folders under a root one level at a time (mode 0o755 whatever the umask), each once,
 * synchronously: two calls per folder, far fewer than per file.
 */
class DirMaker {
  private readonly made = new Set<string>();
  constructor(private readonly root: string) {}

  make(rel: string): void {
    if (rel === '.' || rel === '' || this.made.has(rel)) return;
    this.make(path.posix.dirname(rel));
    const abs = path.join(this.root, rel);
    try {
      fs.mkdirSync(abs, { mode: DIR_MODE });
      fs.chmodSync(abs, DIR_MODE);
    } catch (err) {
      throw withPath(err, 'creating', abs);
    }
    this.made.add(rel);
  }

  /** Absolute paths of the folders created (deepest first), plus the root. */
  created(): string[] {
    const rels = [...this.made].sort((a, b) => b.split('/').length - a.split('/').length);
    return [...rels.map((r) => path.join(this.root, r)), this.root];
  }
}
