/**
 * Where `restore --to DIR` may write: a folder of its own, never in (or around) what ckptd keeps
 * for the run. A restore into the run itself goes without `--to` and takes a pre-restore snapshot
 * first; one into the store or save.to would mix files into records.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { RunConfig } from '../config/types.js';
import { UsageError } from '../util/errors.js';
import { isInside } from '../util/paths.js';

/** Throws a `UsageError` naming the folder when `to` is, lies in, or holds the run's folder, store or save folder. */
export async function assertApartFromRun(run: RunConfig, to: string): Promise<void> {
  const real = await realPathNear(to);
  for (const [what, dir] of [['folder', run.path], ['store', run.store], ['save folder', run.save.to]] as const) {
    const kept = await realPathNear(dir);
    if (!isInside(real, kept) && !isInside(kept, real)) continue;
    const how = real === kept ? 'is' : isInside(real, kept) ? 'is inside' : 'holds';
    throw new UsageError(`--to ${to} ${how} the run's ${what} ${dir}; restore into a folder of its own (to restore the run itself, leave --to out)`);
  }
}

/**
 * Throws a `UsageError` when `to` cannot become the folder to restore into: it is a file, lies under
 * one, or is a symbolic link to nothing (all raw ENOTDIR/ENOENT errors otherwise).
 */
export async function assertFolderPlace(to: string): Promise<void> {
  const abs = path.resolve(to);
  for (let dir = abs; ; dir = path.dirname(dir)) {
    const st = await fsp.lstat(dir).catch(() => null);
    if (st !== null) {
      const target = st.isSymbolicLink() ? await fsp.stat(dir).catch(() => null) : st;
      if (target === null) throw new UsageError(`--to ${to}: ${dir} is a symbolic link to ${await fsp.readlink(dir)}, which does not exist; restore into a folder`);
      if (!target.isDirectory()) throw new UsageError(`--to ${to}: ${dir} is a file, not a folder; restore into a folder`);
      return;
    }
    if (path.dirname(dir) === dir) return;
  }
}

/** `p` with the symlinks of its nearest existing ancestor resolved (the rest as written). */
async function realPathNear(p: string): Promise<string> {
  const abs = path.resolve(p);
  for (let dir = abs, rest = ''; ; dir = path.dirname(dir)) {
    const real = await fsp.realpath(dir).catch(() => null);
    if (real !== null) return path.join(real, rest);
    if (path.dirname(dir) === dir) return abs;
    rest = path.join(path.basename(dir), rest);
  }
}
