/**
 * Scanning a run's state: which files the `include`/`exclude` rules select, as the file system
 * reports them right now (lstat only: symlinks are entries, never followed), and a digest of it.
 */
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import fs, { type Dirent } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ScanError } from './errors.js';
import { inPathOrder } from './match-by-path.js';
import { printableName } from '../util/format.js';
import { globMatcher } from '../util/globs.js';
import { isInside, joinerUnder } from '../util/paths.js';
import type { LeftOut, ScanEntry } from './types.js';

/**
 * Globs (relative POSIX paths, `dot: true`) that are never part of a state: ckptd's own files and
 * the temp names trainers and editors write before renaming into place. A folder matching one is
 * not entered.
 */
export const ALWAYS_EXCLUDED: readonly string[] = [
  '.ckptd-progress.json',
  '**/.ckptd-*',
  '**/.ckptd-*/**',
  '**/*.tmp',
  '**/*.temp',
  '**/*.part',
  '**/*.partial',
  '**/*.swp',
  '**/*~',
  '**/.#*',
  '**/*.crdownload',
  '**/tmp-checkpoint-*',
  '**/tmp-checkpoint-*/**',
];

/**
 * Text each glob of `ALWAYS_EXCLUDED` holds literally, so every path it matches holds it too: a path
 * holding none of these is matched by none of them, and is not tested against their 13 patterns
 * (1-2 us a path; a scan of 100,000 files, and a one-shot snapshot scans twice). A glob added above
 * must hold one of these (tests/store/scan.test.ts checks it).
 */
export const ALWAYS_EXCLUDED_MARKS: readonly string[] = ['.ckptd-', '.tmp', '.temp', '.part', '.swp', '~', '.#', '.crdownload', 'tmp-checkpoint-'];
const MARKED = new RegExp(ALWAYS_EXCLUDED_MARKS.map((m) => m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'));

/** The rules that select a run's state. */
export interface ScanOptions {
  /** Globs of relative POSIX paths to include (`dot: true`); `[]` includes nothing. */
  include: string[];
  /** Globs to leave out; a folder matching one is not entered. `ALWAYS_EXCLUDED` is added. */
  exclude: string[];
  /** Absolute paths never entered (the store, `save.to`); only those inside the run matter. */
  excludeAbs: string[];
}

/** A scan with the folders it could not read. */
export interface ScanResult {
  /** Regular files and symlinks, sorted by path (plain string order). */
  entries: ScanEntry[];
  /** Folders and files inside the run that could not be read (the root folder failing throws instead). */
  problems: { path: string; error: string }[];
  /**
   * Files and folders the rules select but no snapshot can hold: names that are not valid UTF-8
   * (manifests are JSON strings). Shown with `displayName` (a folder with a trailing `/`, not
   * entered), sorted. They do not make a state incomplete; they are reported, never silently dropped.
   */
  leftOut: LeftOut[];
}

/** Why a name that is not valid UTF-8 is left out. */
export const NOT_UTF8_REASON = 'the name is not valid UTF-8: rename it to capture it';

/** The `leftOut` of the scan that returned each `scanState` array (see `leftOutOf`). */
const leftOutByScan = new WeakMap<readonly ScanEntry[], LeftOut[]>();

/**
 * What the `scanState` call that returned exactly this array left out (`ScanResult.leftOut`);
 * `[]` for any other array (a copy, a filtered list). Lets the capture and `status` report them
 * without changing what every scanner passes around.
 */
export function leftOutOf(entries: readonly ScanEntry[]): LeftOut[] {
  return leftOutByScan.get(entries) ?? [];
}

/**
 * A file name as people can read it: its valid UTF-8 as text, every other byte as `\xNN`
 * (`model\xff.bin`, `ckpt-\xe9t\xe9`), control characters escaped too (`printableName`).
 */
export function displayName(name: Buffer): string {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const lead = name[i]!;
    const len = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    const seq = len > 0 ? name.subarray(i, i + len) : null;
    if (seq !== null && seq.length === len && isUtf8(seq)) {
      out += printableName(seq.toString('utf8'));
      i += len;
    } else {
      out += `\\x${lead.toString(16).padStart(2, '0')}`;
      i += 1;
    }
  }
  return out;
}

/** How many readdir calls run at once. */
const PARALLEL = 32;
/**
 * Files lstat'ed per synchronous slice. A promise per lstat costs a thread-pool round trip: a scan
 * of 100,000 files took 0.7-1.0 s and 1.0-1.4 s of CPU with 32 promises at a time, 0.6 s and 0.7 s
 * in slices (2-core VM, see docs/BENCHMARKS.md). A slice of 512 blocks the event loop for ~2 ms.
 */
const STAT_SLICE = 512;

/**
 * The run's state: every regular file and symlink under `runDir` that `include` selects and
 * neither `exclude` nor `ALWAYS_EXCLUDED` leaves out, sorted by path. Files that vanish during
 * the walk are skipped silently; other kinds (folders, sockets, FIFOs, devices) are never entries.
 * Throws `ScanError` naming every sub-folder or file it could not read (an incomplete state must not be
 * captured as if it were whole), and the file system's error when `runDir` itself cannot be read.
 */
export async function scanState(runDir: string, opts: ScanOptions): Promise<ScanEntry[]> {
  const { entries, problems, leftOut } = await scanStateDetailed(runDir, opts);
  if (problems.length > 0) throw new ScanError(problems);
  leftOutByScan.set(entries, leftOut);
  return entries;
}

/**
 * Like `scanState`, but returns unreadable sub-folders as `problems` next to what it could read,
 * and the names it left out as `leftOut`.
 */
export async function scanStateDetailed(runDir: string, opts: ScanOptions): Promise<ScanResult> {
  const included = globMatcher(opts.include);
  const always = globMatcher(ALWAYS_EXCLUDED);
  const theirs = globMatcher(opts.exclude);
  // The same answer as one matcher of both lists, without the 13 patterns for most paths.
  const excluded = (rel: string): boolean => (MARKED.test(rel) && always(rel)) || theirs(rel);
  const skipRel = await excludedInside(runDir, opts.excludeAbs);
  const inRun = joinerUnder(runDir);
  const entries: ScanEntry[] = [];
  const problems: ScanResult['problems'] = [];
  const leftOut: LeftOut[] = [];

  // Names as bytes: a name that is not UTF-8 would otherwise decode to U+FFFD and name no file.
  // The root must be readable: an error here is the caller's to report (missing run folder, ...).
  const rootDirents = await fsp.readdir(runDir, { withFileTypes: true, encoding: 'buffer' });
  const queue: { rel: string; dirents: Dirent<Buffer>[] | null }[] = [{ rel: '', dirents: rootDirents }];
  while (queue.length > 0) {
    const batch = queue.splice(0, PARALLEL);
    const listed = await Promise.all(
      batch.map(async (d) => {
        if (d.dirents) return d.dirents;
        try {
          return await fsp.readdir(path.join(runDir, d.rel), { withFileTypes: true, encoding: 'buffer' });
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT' && code !== 'ENOTDIR') problems.push({ path: path.join(runDir, d.rel), error: (err as Error).message });
          return [];
        }
      }),
    );
    const candidates: string[] = [];
    batch.forEach((d, i) => {
      for (const dirent of listed[i]!) {
        const name = dirent.name.toString('utf8');
        const rel = d.rel === '' ? name : `${d.rel}/${name}`;
        if (skipRel.has(rel) || excluded(rel)) continue;
        // Only a name holding U+FFFD can be one that did not decode: check those few exactly.
        if (name.includes('\uFFFD') && !isUtf8(dirent.name)) {
          const shown = (d.rel === '' ? '' : `${printableName(d.rel)}/`) + displayName(dirent.name);
          if (dirent.isDirectory()) leftOut.push({ path: `${shown}/`, reason: NOT_UTF8_REASON });
          else if ((dirent.isFile() || dirent.isSymbolicLink()) && included(rel)) leftOut.push({ path: shown, reason: NOT_UTF8_REASON });
          continue;
        }
        if (dirent.isDirectory()) queue.push({ rel, dirents: null });
        else if ((dirent.isFile() || dirent.isSymbolicLink()) && included(rel)) candidates.push(rel);
      }
    });
    // The names are read: the dirents (an object and a buffer each) must not outlive the lstats
    // below, which yield between slices (32 folders of 1,000 files: 32,000 of them).
    listed.length = 0;
    for (const d of batch) d.dirents = null;
    for (let i = 0; i < candidates.length; i += STAT_SLICE) {
      // Between slices, timers and I/O of the rest of the process get their turn.
      if (i > 0) await new Promise((r) => setImmediate(r));
      for (const rel of candidates.slice(i, i + STAT_SLICE)) {
        try {
          const e = statEntrySync(inRun(rel), rel);
          if (e) entries.push(e);
        } catch (err) {
          problems.push({ path: path.join(runDir, rel), error: (err as Error).message });
        }
      }
    }
  }
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  problems.sort((a, b) => (a.path < b.path ? -1 : 1));
  leftOut.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { entries, problems, leftOut };
}

/**
 * sha256 (hex) over one line per entry: path, type, size, mtimeNs, mode and symlink target. Two
 * scans of an untouched state give the same digest; any content write changes mtime and so the
 * digest. Order of `entries` does not matter.
 */
export function stateDigest(entries: readonly ScanEntry[]): string {
  const hash = createHash('sha256');
  // A scan's entries are in path order already (every look of the daemon, every capture): no copy.
  const sorted = inPathOrder(entries) ? entries : [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // The lines hashed ~64 KiB at a time (the same digest as one update per line, a call per batch).
  let text = '';
  for (const e of sorted) {
    // NUL cannot occur in a path or link target, so the fields cannot run into each other.
    text += `${e.path}\0${e.type}\0${e.size}\0${e.mtimeNs}\0${e.mode.toString(8)}\0${e.target ?? ''}\n`;
    if (text.length >= DIGEST_BATCH) {
      hash.update(text);
      text = '';
    }
  }
  hash.update(text);
  return hash.digest('hex');
}

/** Characters of `stateDigest`'s lines hashed per call. */
const DIGEST_BATCH = 64 << 10;

/**
 * The lstat of one file or symlink (`abs`, listed as `rel`) as a `ScanEntry`, or null when it vanished or is neither.
 * Synchronous: the scan calls it in slices (see `STAT_SLICE`).
 */
function statEntrySync(abs: string, rel: string): ScanEntry | null {
  try {
    const st = fs.lstatSync(abs, { bigint: true, throwIfNoEntry: false });
    if (st === undefined) return null;
    // Object literals, not a spread of a common part: a spread copy takes 2.3x the memory (523
    // against 227 bytes an entry, measured on 100,000), and a run's scan is held whole.
    const mtimeNs = st.mtimeNs.toString();
    // One string when both times are the same instant (a file written once): 40 bytes less a file.
    const ctimeNs = st.ctimeNs === st.mtimeNs ? mtimeNs : st.ctimeNs.toString();
    if (st.isFile()) {
      const e: ScanEntry = { path: rel, size: Number(st.size), mtimeNs, ino: Number(st.ino), mode: Number(st.mode & 0o7777n), ctimeNs, type: 'file' };
      // Only a sparse file carries it: the copy keeps the holes, so the free-space check must not count them.
      const allocated = Number(st.blocks) * 512;
      if (allocated < e.size) e.allocated = allocated;
      return e;
    }
    if (st.isSymbolicLink()) {
      const target = fs.readlinkSync(abs);
      return { path: rel, size: Number(st.size), mtimeNs, ino: Number(st.ino), mode: Number(st.mode & 0o7777n), ctimeNs, type: 'symlink', target };
    }
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Replaced or removed between readdir and lstat/readlink: not part of this state.
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EINVAL') return null;
    throw err;
  }
}

/**
 * Whether the rules would select a file at `rel` (its own name; folders above it are not
 * checked): for a file that does not exist yet, such as one a trainer writes last.
 */
export function selectsPath(opts: Pick<ScanOptions, 'include' | 'exclude'>, rel: string): boolean {
  return globMatcher(opts.include)(rel) && !globMatcher([...ALWAYS_EXCLUDED, ...opts.exclude])(rel);
}

/** Relative paths (inside the run) of the `excludeAbs` entries that lie strictly inside it. */
async function excludedInside(runDir: string, excludeAbs: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  const runs = [path.resolve(runDir), await fsp.realpath(runDir).catch(() => path.resolve(runDir))];
  for (const abs of excludeAbs) {
    const targets = [path.resolve(abs), await fsp.realpath(abs).catch(() => path.resolve(abs))];
    for (const r of runs) {
      for (const t of targets) {
        if (t !== r && isInside(t, r)) out.add(path.relative(r, t).split(path.sep).join('/'));
      }
    }
  }
  return out;
}
