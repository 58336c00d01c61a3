/** Small file-system helpers shared by the store and the daemon (nothing here writes). */
import fs, { type StatsFs } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/**
 * The names in folder `dir`, or `[]` when there is no folder at that path (ENOENT, or ENOTDIR: a
 * file stands where the folder or one of its parents would be). Other errors (EACCES, EIO) throw.
 */
export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}

/**
 * True when something (file, folder, symlink, even a dangling one) is at `p`: `lstat`, which does
 * not follow a final symlink. False when `lstat` fails for any reason. (fs-extra's `pathExists`
 * follows symlinks, so a dangling one would read as free: not what a no-replace check needs.)
 */
export async function existsNoFollow(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

/** An mtime in nanoseconds (a scan's exact `mtimeNs`, a decimal string) in whole milliseconds, rounded down. */
export function mtimeMsOf(mtimeNs: string): number {
  return Number(BigInt(mtimeNs) / 1_000_000n);
}

/**
 * The seconds to give Node's `utimes` for a file time in the microsecond `ns` falls in: Node takes a
 * double of seconds and truncates it to the microsecond, and a double near 1.8e9 s is only good to a
 * quarter of one, so the middle of the microsecond is aimed at (its start could land on the one before).
 */
export function utimesSeconds(ns: bigint): number {
  return (Number(ns / 1000n) + 0.5) / 1e6;
}

/**
 * `statfs` of the file system of `dir`, or of its nearest existing parent (a folder not made yet,
 * such as a new store). Errors other than ENOENT throw.
 */
export async function statfsNear(dir: string): Promise<StatsFs> {
  for (let d = dir; ; d = path.dirname(d)) {
    const st = await fsp.statfs(d).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && path.dirname(d) !== d) return null;
      throw err;
    });
    if (st) return st;
  }
}

/** `statfsNear` for a caller that cannot wait (an error's message): null instead of any error. */
export function statfsNearSync(dir: string): StatsFs | null {
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      return fs.statfsSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(d) === d) return null;
    }
  }
}
