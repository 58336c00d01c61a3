/**
 * The last steps of a restore into the run: removing the files of its state that the restored
 * snapshot lacks, and only those the pre-restore snapshot holds a copy of; then the folders those
 * removals emptied (where the snapshot holds a file, and any other). And what a file it replaces
 * must still be.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { assertLockHeld } from '../store/lock-signal.js';
import { assertStillInside, walkInside } from '../store/safe-dir.js';
import type { ScanEntry } from '../store/types.js';
import { SafetyError } from '../util/errors.js';
import type { RestoreResult } from './restore.js';
import type { BigIntStats } from 'node:fs';

/**
 * Removes the files of the run's state the snapshot lacks, each only when it is still the version
 * scanned (size, mtime, and inode and ctime: a rewrite that put size and mtime back, `rsync -t`,
 * still moved its ctime) and the pre-restore snapshot holds it (not in `unkept`), else it is left
 * in place and listed, and no folder on its path became a symlink.
 */
export async function removeExtra(
  root: string,
  remove: { path: string }[],
  entries: ScanEntry[],
  unkept: Set<string>,
  result: Pick<RestoreResult, 'removed' | 'leftInPlace'>,
  signal: AbortSignal | undefined,
): Promise<void> {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const shared = sharedInodes(entries);
  for (const c of remove) {
    const dir = await walkInside(root, path.posix.dirname(c.path));
    if (dir === null) continue;
    const abs = path.join(dir, path.posix.basename(c.path));
    const st = await fsp.lstat(abs, { bigint: true }).catch(() => null);
    const was = byPath.get(c.path)!;
    if (st === null) continue;
    if (unkept.has(c.path) || !isScannedVersion(st, was, shared)) {
      result.leftInPlace.push(c.path);
      continue;
    }
    assertLockHeld(signal);
    await fsp.unlink(abs);
    result.removed.push(c.path);
    await assertStillInside(root, dir);
  }
}

/**
 * Removes folder `rel` of the run and its subfolders when they hold nothing else (a folder where the
 * snapshot holds a file, once `removeExtra` removed its files); true when nothing is at `rel` any
 * more. Only rmdir, so a folder still holding anything (a file left in place, one the config leaves
 * out) stays, and false is returned. Each folder is checked to be itself (no symlink on its path)
 * before anything in it is removed.
 */
export async function removeEmptyFolder(root: string, rel: string, signal: AbortSignal | undefined): Promise<boolean> {
  const dir = await walkInside(root, rel);
  return dir === null || (await removeIfEmpty(root, dir, signal));
}

async function removeIfEmpty(root: string, dir: string, signal: AbortSignal | undefined): Promise<boolean> {
  const names = await fsp.readdir(dir);
  await assertStillInside(root, dir);
  for (const name of names) {
    const sub = path.join(dir, name);
    const st = await fsp.lstat(sub).catch(() => null);
    if (st !== null && (!st.isDirectory() || !(await removeIfEmpty(root, sub, signal)))) return false;
  }
  assertLockHeld(signal);
  return fsp.rmdir(dir).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOTEMPTY' || err.code === 'EEXIST') return false;
      if (err.code === 'ENOENT') return true;
      throw err;
    },
  );
}

/**
 * Removes the folders of the run that the removal of `removed` (files `removeExtra` removed, relative
 * paths) left empty: each folder on their paths, deepest first, that holds nothing now. A trainer
 * resuming from its newest checkpoint folder picks it by name, empty or not (the Hugging Face
 * Trainer's `get_last_checkpoint`, OneTrainer's last backup): an emptied `checkpoint-300/` left
 * behind would be picked over the restored `checkpoint-200/`. Only rmdir, never through a symlink:
 * a folder still holding anything (a file left in place, one the config leaves out) stays, as do
 * the run folder and folders no removal touched. Returns the folders removed.
 */
export async function removeEmptiedFolders(root: string, removed: readonly string[], signal: AbortSignal | undefined): Promise<string[]> {
  const folders = new Set<string>();
  for (const file of removed) for (let d = path.posix.dirname(file); d !== '.'; d = path.posix.dirname(d)) folders.add(d);
  const depth = (rel: string): number => rel.split('/').length;
  const gone: string[] = [];
  for (const rel of [...folders].sort((a, b) => depth(b) - depth(a))) {
    const parent = await walkInside(root, path.posix.dirname(rel));
    if (parent === null) continue;
    assertLockHeld(signal);
    const ok = await fsp.rmdir(path.join(parent, path.posix.basename(rel))).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        // Not empty, gone, or no folder (a symlink put there meanwhile is never followed).
        if (err.code === 'ENOTEMPTY' || err.code === 'EEXIST' || err.code === 'ENOENT' || err.code === 'ENOTDIR') return false;
        throw err;
      },
    );
    if (ok) gone.push(rel);
  }
  return gone;
}

/** Throws `SafetyError` unless the restore may replace what is at `final` (the run's file `rel`). */
export type ReplaceCheck = (rel: string, final: string) => Promise<void>;

/**
 * Accepts a path only while it holds the version scanned, which the pre-restore snapshot holds (not
 * in `unkept`) or which was an empty file (nothing to lose: a save the trainer emptied moments ago
 * is left out of that snapshot, see `EMPTIED_QUIET_MS`, and is what the restore is for), or while
 * still empty when the scan found nothing there: a version written since is in no snapshot, and
 * replacing it would lose it.
 */
export function replaceOnlyAsKept(entries: ScanEntry[], unkept: Set<string>): ReplaceCheck {
  const scannedAt = new Map(entries.map((e) => [e.path, e]));
  const shared = sharedInodes(entries);
  return async (rel, final) => {
    const st = await fsp.lstat(final, { bigint: true }).catch(() => null);
    const was = scannedAt.get(rel);
    const kept = was !== undefined && (!unkept.has(rel) || (was.type === 'file' && was.size === 0));
    if (was === undefined ? st === null : st !== null && kept && isScannedVersion(st, was, shared)) return;
    throw new SafetyError(`not replacing ${rel}: it changed while the restore ran (is the trainer writing?), and no snapshot holds it as it is now`);
  };
}

/**
 * True when `st` is the version the scan saw; a scan entry without a ctime never is (nothing proves
 * it). For an inode that several of the run's files share (`shared`), the restore's own rename or
 * unlink of one moves the ctime of the others: theirs is not compared.
 */
function isScannedVersion(st: BigIntStats, was: ScanEntry, shared: Set<number>): boolean {
  return (
    was.ctimeNs !== undefined &&
    Number(st.size) === was.size &&
    st.mtimeNs.toString() === was.mtimeNs &&
    Number(st.ino) === was.ino &&
    (shared.has(was.ino) || st.ctimeNs.toString() === was.ctimeNs)
  );
}

/** The inodes more than one of `entries` (regular files) has: hard links of each other in the run. */
function sharedInodes(entries: ScanEntry[]): Set<number> {
  const seen = new Set<number>();
  const shared = new Set<number>();
  for (const e of entries) if (e.type === 'file') (seen.has(e.ino) ? shared : seen).add(e.ino);
  return shared;
}
