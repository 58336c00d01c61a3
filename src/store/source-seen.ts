/**
 * A capture's view of one source: the lstat that must stay the same for a captured copy to stay
 * current (`Seen`), how to take it, how to compare it with the version the caller expects, and how
 * to turn it into a scan entry or a manifest entry. No writes, no decisions.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { withPath } from './errors.js';
import { matchByPath } from './match-by-path.js';
import { shareWithEntry } from './shared-strings.js';
import type { ManifestEntry, ScanEntry } from './types.js';

/** A source as lstat saw it: everything that must stay the same for a captured copy to stay current. */
export interface Seen {
  type: 'file' | 'symlink';
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  ino: number;
  mode: number;
  target?: string;
}

/** The lstat of a source (and its target, for a symlink), or null when it is gone or neither a file nor a symlink. */
export function lstatSeen(file: string): Seen | null {
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
export function toSeen(st: fs.BigIntStats, target: string | undefined): Seen | null {
  if (!st.isFile() && !st.isSymbolicLink()) return null;
  const mtimeNs = st.mtimeNs.toString();
  const seen: Seen = {
    type: st.isFile() ? 'file' : 'symlink',
    size: Number(st.size),
    mtimeNs,
    // One string when both are the same instant (see `shared-strings.ts`).
    ctimeNs: st.ctimeNs === st.mtimeNs ? mtimeNs : st.ctimeNs.toString(),
    ino: Number(st.ino),
    mode: Number(st.mode & 0o7777n),
  };
  if (seen.type === 'symlink') seen.target = target;
  return seen;
}

/** Whether `s` is the version `e` describes (its ctime too, when `e` has one: a `touch -r` rewrite moves it). */
export function sameVersion(s: Seen, e: ScanEntry): boolean {
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

/**
 * A scan entry as the `Seen` of its own version, when it has everything a `Seen` has (its ctime);
 * null when it lacks the ctime. The same object, no copy.
 */
export function seenOfEntry(e: ScanEntry): Seen | null {
  return e.ctimeNs === undefined ? null : (e as Seen);
}

/** Whether two lstats of a source saw the same version (ctime included). */
export function sameSeen(a: Seen, b: Seen): boolean {
  return a.type === b.type && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino && a.mode === b.mode && a.target === b.target;
}

/** The scan entry of the version `s` of the source at `rel`. */
export function toEntry(rel: string, s: Seen): ScanEntry {
  const e: ScanEntry = { path: rel, type: s.type, size: s.size, mtimeNs: s.mtimeNs, ino: s.ino, mode: s.mode, ctimeNs: s.ctimeNs };
  if (s.target !== undefined) e.target = s.target;
  return e;
}

/** The manifest entry of `e`, captured as the version `seen` (its inode and ctime let the next snapshot link it). */
export function manifestOf(e: ScanEntry, seen: Seen, sha256: string): ManifestEntry {
  return { path: e.path, size: e.size, sha256, mode: e.mode, mtime_ns: e.mtimeNs, ino: seen.ino, ctime_ns: seen.ctimeNs };
}

/** The keys of a file's `manifestOf` entry, in the order it writes them (and `snapshot.json` holds them). */
const FILE_ENTRY_KEYS = ['path', 'size', 'sha256', 'mode', 'mtime_ns', 'ino', 'ctime_ns'];

/**
 * The manifest entry of `e`, linked as the version `seen` from the previous snapshot's `stored`
 * entry (same file, same digest): `stored` itself when it is exactly the entry `manifestOf` would
 * make (the same keys in the same order, the same values, so `snapshot.json` gets the same text);
 * else a new entry. A one-file change of a run of 100,000 files then holds one object per file,
 * not two (~8 MB), and with `previousByPath` one set of strings.
 */
export function linkedManifestOf(e: ScanEntry, seen: Seen, stored: ManifestEntry): ManifestEntry {
  let k = 0;
  for (const key in stored) if (key !== FILE_ENTRY_KEYS[k++]) return manifestOf(e, seen, stored.sha256);
  if (k !== FILE_ENTRY_KEYS.length) return manifestOf(e, seen, stored.sha256);
  if (stored.path !== e.path || stored.size !== e.size || stored.mode !== e.mode || stored.mtime_ns !== e.mtimeNs || stored.ino !== seen.ino || stored.ctime_ns !== seen.ctimeNs) {
    return manifestOf(e, seen, stored.sha256);
  }
  return stored;
}

/**
 * The previous snapshot's entry of each scan entry's path, in the scan's order (null where it holds
 * no such file), each made to hold the strings it has in common with that scan entry (the path; the
 * mtime and ctime when equal): the previous manifest and the scan are alive together for the whole
 * capture, and a run of 100,000 unchanged files held each of these strings twice (~14 MB). An entry
 * changes only in which of two equal strings it holds. Paired by `matchByPath`: no lookup table
 * is kept for the capture (kept, its table held 7 MB for 100,000 files), nor built when both are
 * sorted, as ckptd writes them.
 */
export function previousByPath(files: readonly ManifestEntry[], entries: readonly ScanEntry[]): (ManifestEntry | null)[] {
  const prev = matchByPath(files, entries);
  entries.forEach((e, i) => {
    const p = prev[i];
    if (p !== null && p !== undefined) shareWithEntry(p, e);
  });
  return prev;
}

/** The SHA-256 of a string (a symlink's target), hex. */
export function sha256Text(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
