/**
 * Small durability primitives: fsync a folder, write a file atomically, remove a tree of read-only
 * files. Everything ckptd writes goes through temp + fsync + rename + fsync of the folder.
 */
import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { withPath } from './errors.js';
import { TEMP_PREFIX } from './layout.js';

/** Flushes a folder's entries (new names, renames, unlinks) to disk. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes `data` to `file` so that a reader (or a crash) sees either the old content or the new one,
 * never a mix: a temp file `.ckptd-tmp-<name>-<random>` in the same folder, fsync, rename, fsync
 * of the folder. `mode` defaults to 0o644. A full disk throws `NoSpaceError`; the temp file is
 * removed on any failure.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: { mode?: number } = {}): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `${TEMP_PREFIX}${path.basename(file)}-${randomBytes(4).toString('hex')}`);
  try {
    const fh = await fsp.open(tmp, 'wx', opts.mode ?? 0o644);
    try {
      await fh.writeFile(data);
      await fh.chmod(opts.mode ?? 0o644);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw withPath(err, 'writing', file);
  }
  await fsyncDir(dir);
}

/**
 * Removes `target` and everything under it without following symlinks. Folders are made
 * owner-writable first when needed (stored files and folders may be read-only).
 * A missing `target` is not an error.
 */
export async function removeTree(target: string): Promise<void> {
  try {
    await fsp.rm(target, { recursive: true, force: true });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES' && (err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  }
  await makeDirsWritable(target);
  await fsp.rm(target, { recursive: true, force: true });
}

async function makeDirsWritable(dir: string): Promise<void> {
  const st = await fsp.lstat(dir).catch(() => null);
  if (!st?.isDirectory()) return;
  await fsp.chmod(dir, (st.mode & 0o777) | 0o700);
  for (const name of await fsp.readdir(dir)) await makeDirsWritable(path.join(dir, name));
}
