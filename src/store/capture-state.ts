/**
 * Capturing a multi-file state as ONE generation into a folder: every file is copied, hard-linked
 * from the previous snapshot, or (symlinks) recreated; then every source is stat'ed again. A file
 * whose source changed since it was captured is captured again after a pause, until a full pass
 * finds nothing changed: at that moment every captured version was the current one at once, so the
 * set is consistent. Files that keep changing are left out on the last pass and reported.
 *
 * Only the files that changed are recaptured on a retry (the rest are still current, which the
 * final pass re-checks), so a changing 1 KB JSON does not cost a second copy of a 10 GB optimizer.
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { captureFile } from './capture-file.js';
import { FileChangedError, FileVanishedError, withPath } from './errors.js';
import { DIR_MODE, isSafeRelPath } from './layout.js';
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
  /** Pause before retry k (0-based) is `retryDelayMs * 2^k`. */
  retryDelayMs: number;
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
 * Files up to this size are captured many at a time; larger ones two at a time: each large copy
 * keeps one core busy hashing while the kernel copies, so two fill a 2-core machine (16 MiB of
 * buffers each) without thrashing the disk.
 */
const SMALL = 1 << 20;
const SMALL_PARALLEL = 16;
const LARGE_PARALLEL = 2;

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
}

/**
 * Captures `entries` of `runDir` into `dest` as one consistent generation (see the file comment).
 * File modes: 0o444, or 0o555 when the source has any x bit; folders 0o755. Every copied file is
 * fsynced; folders are NOT (the caller fsyncs `dirs` once everything is in place). On an error
 * other than a changed or vanished source, throws, leaving `dest` for the caller to remove.
 */
export async function captureState(opts: CaptureStateOptions): Promise<CapturedState> {
  for (const e of opts.entries) if (!isSafeRelPath(e.path)) throw new Error(`refusing to capture unsafe path ${JSON.stringify(e.path)}`);
  const slots = opts.entries.map((entry): Slot => ({ entry, captured: null, skipped: null }));
  const prev = new Map((opts.previous?.files ?? []).map((f) => [f.path, f]));
  const dirs = new DirMaker(opts.dest);
  let copiedBytes = 0;
  let linkedBytes = 0;
  let done = 0;
  let total = opts.entries.reduce((n, e) => n + e.size, 0);

  const captureOne = async (slot: Slot, last: boolean): Promise<boolean> => {
    const src = path.join(opts.runDir, slot.entry.path);
    const dst = path.join(opts.dest, slot.entry.path);
    const seen = await lstatSeen(src);
    if (seen === null) return skip(slot, 'vanished');
    if (!sameVersion(seen, slot.entry)) {
      // A new version must stay put for a whole pause before it may be captured.
      slot.entry = toEntry(slot.entry.path, seen);
      return last ? skip(slot, 'kept changing') : false;
    }
    await dirs.make(path.posix.dirname(slot.entry.path));
    const readOnly = seen.mode & 0o111 ? 0o555 : 0o444;
    if (seen.type === 'symlink') {
      await fsp.symlink(seen.target!, dst).catch((err: unknown) => Promise.reject(withPath(err, 'creating', dst)));
      const manifest = { ...manifestOf(slot.entry, sha256Text(seen.target!)), type: 'symlink' as const, target: seen.target! };
      slot.captured = { seen, manifest, how: 'symlink' };
      done += seen.size;
      return true;
    }
    const p = prev.get(slot.entry.path);
    if (p && p.type === undefined && p.size === seen.size && p.mtime_ns === seen.mtimeNs && p.mode === seen.mode && opts.previous) {
      if (await linkStored(path.join(opts.previous.filesDir, p.path), dst, seen.size)) {
        slot.captured = { seen, manifest: manifestOf(slot.entry, p.sha256), how: 'link' };
        linkedBytes += seen.size;
        done += seen.size;
        return true;
      }
    }
    try {
      const c = await captureFile(src, dst, slot.entry, {
        mode: readOnly,
        onBytes: (n) => {
          done += n;
          opts.onProgress?.(done, total);
        },
      });
      slot.captured = { seen: { ...seen, ctimeNs: c.ctimeNs }, manifest: manifestOf(slot.entry, c.sha256), how: 'copy' };
      copiedBytes += c.size;
      return true;
    } catch (err) {
      if (err instanceof FileVanishedError) return skip(slot, 'vanished');
      if (!(err instanceof FileChangedError)) throw err;
      const now = await lstatSeen(src);
      if (now === null) return skip(slot, 'vanished');
      slot.entry = toEntry(slot.entry.path, now);
      return last ? skip(slot, `kept changing (${err.changes.join(', ')})`) : false;
    }
  };

  for (let attempt = 0; attempt <= opts.retries; attempt++) {
    const last = attempt === opts.retries;
    const todo = slots.filter((s) => s.captured === null && s.skipped === null);
    const isSmall = (s: Slot): boolean => s.entry.size <= SMALL || s.entry.type === 'symlink';
    const small = todo.filter(isSmall);
    const large = todo.filter((s) => !isSmall(s));
    const results = await runPools(
      [
        { items: small, parallel: SMALL_PARALLEL },
        { items: large, parallel: LARGE_PARALLEL },
      ],
      async (s) => {
        const ok = await captureOne(s, last);
        opts.onProgress?.(done, total);
        return ok;
      },
    );
    let clean = results.every(Boolean);

    // The consistency pass: every captured source must still be the version captured.
    for (const slot of slots) {
      if (slot.captured === null) continue;
      const now = await lstatSeen(path.join(opts.runDir, slot.entry.path));
      if (now !== null && sameSeen(now, slot.captured.seen)) continue;
      await fsp.rm(path.join(opts.dest, slot.entry.path), { force: true });
      if (slot.captured.how === 'copy') copiedBytes -= slot.captured.seen.size;
      if (slot.captured.how === 'link') linkedBytes -= slot.captured.seen.size;
      total += slot.entry.size;
      slot.captured = null;
      if (now === null) skip(slot, 'vanished');
      else {
        slot.entry = toEntry(slot.entry.path, now);
        if (last) skip(slot, 'kept changing');
        else clean = false;
      }
    }
    if (clean) break;
    await new Promise((r) => setTimeout(r, opts.retryDelayMs * 2 ** attempt));
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

/** Hard-links a stored file of the previous snapshot; false when it is gone, resized or cannot be linked. */
async function linkStored(stored: string, dst: string, size: number): Promise<boolean> {
  const st = await fsp.lstat(stored).catch(() => null);
  if (!st?.isFile() || st.size !== size) return false;
  try {
    await fsp.link(stored, dst);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // EMLINK: too many links to one inode; EPERM: protected_hardlinks; ENOENT: deleted meanwhile.
    if (code === 'EMLINK' || code === 'EPERM' || code === 'ENOENT' || code === 'EXDEV') return false;
    throw withPath(err, 'linking', dst);
  }
}

async function lstatSeen(file: string): Promise<Seen | null> {
  try {
    const st = await fsp.lstat(file, { bigint: true });
    if (!st.isFile() && !st.isSymbolicLink()) return null;
    const seen: Seen = {
      type: st.isFile() ? 'file' : 'symlink',
      size: Number(st.size),
      mtimeNs: st.mtimeNs.toString(),
      ctimeNs: st.ctimeNs.toString(),
      ino: Number(st.ino),
      mode: Number(st.mode & 0o7777n),
    };
    if (seen.type === 'symlink') seen.target = await fsp.readlink(file);
    return seen;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EINVAL') return null;
    throw withPath(err, 'cannot stat', file);
  }
}

function sameVersion(s: Seen, e: ScanEntry): boolean {
  return s.type === e.type && s.size === e.size && s.mtimeNs === e.mtimeNs && s.ino === e.ino && s.mode === e.mode && s.target === e.target;
}

function sameSeen(a: Seen, b: Seen): boolean {
  return a.type === b.type && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino && a.mode === b.mode && a.target === b.target;
}

function toEntry(rel: string, s: Seen): ScanEntry {
  const e: ScanEntry = { path: rel, type: s.type, size: s.size, mtimeNs: s.mtimeNs, ino: s.ino, mode: s.mode };
  if (s.target !== undefined) e.target = s.target;
  return e;
}

function manifestOf(e: ScanEntry, sha256: string): ManifestEntry {
  return { path: e.path, size: e.size, sha256, mode: e.mode, mtime_ns: e.mtimeNs };
}

function sha256Text(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/**
 * Runs `work` over each pool's items with that pool's parallelism, all pools at once. Stops taking
 * new items after the first error, waits for what is running, then throws that error.
 */
async function runPools<T, R>(pools: { items: T[]; parallel: number }[], work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  let failed: { err: unknown } | null = null;
  const lanes: Promise<void>[] = [];
  for (const pool of pools) {
    let next = 0;
    for (let lane = 0; lane < Math.min(pool.parallel, pool.items.length); lane++) {
      lanes.push(
        (async () => {
          while (failed === null && next < pool.items.length) {
            const item = pool.items[next++]!;
            try {
              out.push(await work(item));
            } catch (err) {
              failed ??= { err };
            }
          }
        })(),
      );
    }
  }
  await Promise.all(lanes);
  if (failed !== null) throw (failed as { err: unknown }).err;
  return out;
}

/** Creates folders under a root one level at a time (mode 0o755 whatever the umask), each once. */
class DirMaker {
  private readonly made = new Map<string, Promise<void>>();
  constructor(private readonly root: string) {}

  make(rel: string): Promise<void> {
    if (rel === '.' || rel === '') return Promise.resolve();
    let p = this.made.get(rel);
    if (!p) {
      p = this.make(path.posix.dirname(rel)).then(async () => {
        const abs = path.join(this.root, rel);
        await fsp.mkdir(abs, { mode: DIR_MODE }).catch((err: unknown) => Promise.reject(withPath(err, 'creating', abs)));
        await fsp.chmod(abs, DIR_MODE);
      });
      this.made.set(rel, p);
    }
    return p;
  }

  /** Absolute paths of the folders created (deepest first), plus the root. */
  created(): string[] {
    const rels = [...this.made.keys()].sort((a, b) => b.split('/').length - a.split('/').length);
    return [...rels.map((r) => path.join(this.root, r)), this.root];
  }
}
