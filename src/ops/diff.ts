/**
 * `ckptd diff A B`: which files were added, removed or changed between two snapshots, or between a
 * snapshot and the run as it is now. Snapshots compare by sha256; the live run (not hashed, it may
 * be many GB) compares by type, size and mtime (to the microsecond) against the snapshot's record of them.
 */
import { sameMicrosecond } from '../policy/same-microsecond.js';
import type { ManifestEntry, ScanEntry } from '../store/types.js';

export interface DiffEntry {
  path: string;
  /** Size in A (null when added). */
  from: number | null;
  /** Size in B (null when removed). */
  to: number | null;
}

export interface Diff {
  added: DiffEntry[];
  removed: DiffEntry[];
  changed: DiffEntry[];
  unchanged: number;
}

/** Files of `b` compared with `a`. Pure. */
export function diffManifests(a: readonly ManifestEntry[], b: readonly ManifestEntry[]): Diff {
  return diffBy(a, b, (x, y) => x.sha256 === y.sha256 && x.size === y.size && x.type === y.type && x.target === y.target);
}

/** The live run's scan compared with snapshot `a` (metadata only). Pure. */
export function diffWithRun(a: readonly ManifestEntry[], live: readonly ScanEntry[]): Diff {
  const asManifest = live.map((e) => ({ path: e.path, size: e.size, sha256: '', mode: e.mode, mtime_ns: e.mtimeNs, ...(e.type === 'symlink' ? { type: 'symlink' as const, target: e.target ?? '' } : {}) }));
  return diffBy(a, asManifest, (x, y) => x.size === y.size && sameMicrosecond(x.mtime_ns, y.mtime_ns) && x.type === y.type && x.target === y.target);
}

/**
 * True when the live run holds exactly the files of a snapshot with manifest `a`, as far as
 * metadata tells (`diffWithRun` finds nothing added, removed or changed). Pure.
 */
export function runHoldsFiles(a: readonly ManifestEntry[], live: readonly ScanEntry[]): boolean {
  const d = diffWithRun(a, live);
  return d.added.length + d.removed.length + d.changed.length === 0;
}

function diffBy(a: readonly ManifestEntry[], b: readonly ManifestEntry[], same: (x: ManifestEntry, y: ManifestEntry) => boolean): Diff {
  const inA = new Map(a.map((f) => [f.path, f]));
  const inB = new Map(b.map((f) => [f.path, f]));
  const d: Diff = { added: [], removed: [], changed: [], unchanged: 0 };
  for (const y of b) {
    const x = inA.get(y.path);
    if (!x) d.added.push({ path: y.path, from: null, to: y.size });
    else if (!same(x, y)) d.changed.push({ path: y.path, from: x.size, to: y.size });
    else d.unchanged++;
  }
  for (const x of a) if (!inB.has(x.path)) d.removed.push({ path: x.path, from: x.size, to: null });
  const byPath = (p: DiffEntry, q: DiffEntry): number => (p.path < q.path ? -1 : p.path > q.path ? 1 : 0);
  d.added.sort(byPath);
  d.removed.sort(byPath);
  d.changed.sort(byPath);
  return d;
}
