/**
 * One string where two equal ones were held: what a run of many files costs per file is mostly
 * strings (a path of 34 characters is 56 bytes of heap, a time in nanoseconds 40), and a capture
 * holds the run's scan and the previous snapshot's manifest side by side (issue 15; measured in
 * docs/BENCHMARKS.md, "Peak RSS, third pass"). Only which of two equal strings an entry holds
 * changes, never a value, a key or the keys' order, so `snapshot.json` is written the same.
 */
import type { ManifestEntry, ScanEntry } from './types.js';

/**
 * Makes a manifest entry hold one string for its mtime and ctime when they are equal: a file
 * written once and never renamed, chmod'ed or touched has both at the same instant.
 */
export function shareTimes(p: ManifestEntry): void {
  if (p.ctime_ns !== undefined && p.ctime_ns === p.mtime_ns) p.ctime_ns = p.mtime_ns;
}

/** Makes the manifest entry `p` of `e`'s path hold `e`'s path, and its mtime and ctime where equal. */
export function shareWithEntry(p: ManifestEntry, e: ScanEntry): void {
  p.path = e.path;
  if (p.mtime_ns === e.mtimeNs) p.mtime_ns = e.mtimeNs;
  if (p.ctime_ns !== undefined && p.ctime_ns === e.ctimeNs) p.ctime_ns = e.ctimeNs;
}

/**
 * A function for the manifest entries of a snapshot as they are read, in the order they are read:
 * each shares its times (`shareTimes`), and, with `like` (a scan of the run, in path order), the
 * strings of `like`'s entry of the same path (`shareWithEntry`). Paired by walking both in path
 * order (ckptd writes a manifest in path order): an entry out of that order only shares its times.
 */
export function sharingWith(like: readonly ScanEntry[] | undefined): (p: ManifestEntry) => void {
  let j = 0;
  return (p) => {
    shareTimes(p);
    if (like === undefined) return;
    while (j < like.length && like[j]!.path < p.path) j++;
    const e = like[j];
    if (e !== undefined && e.path === p.path) shareWithEntry(p, e);
  };
}
