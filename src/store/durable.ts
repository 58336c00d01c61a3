/**
 * The one commit protocol. Everything ckptd makes durable goes through here, in this order:
 * stage (write under a temp name in the target's own folder) -> fsync the staged bytes -> rename
 * into place -> fsync the destination folder (and the source folder, when it differs). A crash at
 * any instant leaves either the old target or the new one, never a mix, plus at most a staged name
 * carrying `TEMP_PREFIX` (or a staging folder) that `sweepStore` removes.
 *
 * - `writeFileAtomic` / `writeFileAtomicSync`: all four steps for a small file.
 * - `commitStaged`: the last two steps for something the caller staged and fsynced itself (a
 *   snapshot folder, an export, a restored file), optionally never replacing what is there.
 * - `ensureDirDurable`: mkdir of every missing folder, each followed by an fsync of its parent.
 * - `fsyncDir`, `syncDirs`: the folder fsyncs, for callers that batch them (`deferSync`).
 * - `removeTree` (`remove-tree.ts`, re-exported): removal of a tree of read-only files (sweeps, deletes).
 *
 * One batched form of the fsync step lives in `sync-fs.ts`: a capture that copies many small files
 * into its staging folder makes them (and the folder's tree) durable with one syncfs of the store's
 * file system instead of an fsync each, before its `snapshot.json` is written and fsynced and the
 * folder renamed; the order of the steps is the same.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { withPath } from './errors.js';
import { TEMP_PREFIX } from './layout.js';
import { existsNoFollow } from '../util/fs.js';

export { removeTree } from './remove-tree.js';

/** Thrown by `commitStaged` with `noReplace` when something is already at the target. */
export class TargetExistsError extends Error {
  constructor(readonly target: string) {
    super(`${target} already exists; not replacing it`);
    this.name = 'TargetExistsError';
  }
}

/** Flushes a folder's entries (new names, renames, unlinks) to disk. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsyncs each folder of `dirs` once (the folders a batch of `commitStaged({ deferSync })` touched). */
export async function syncDirs(dirs: Iterable<string>): Promise<void> {
  for (const dir of new Set(dirs)) await fsyncDir(dir);
}

/** The temp name a file is staged under: same folder, `TEMP_PREFIX`, so a sweep can prove it ours. */
function tempNameFor(file: string): string {
  return path.join(path.dirname(file), `${TEMP_PREFIX}${path.basename(file)}-${randomBytes(4).toString('hex')}`);
}

/** How `writeFileAtomic` sets the new file's mode. */
export interface WriteFileOptions {
  /** Default 0o644. */
  mode?: number;
  /** Apply the umask to `mode`, as open(2) does (default: `mode` exactly, whatever the umask). */
  keepUmask?: boolean;
  /** The new file's access and modification times (seconds since the epoch); default: now. */
  times?: { atime: number; mtime: number };
  /** Called after the temp file is durable and right before the rename: throwing leaves `file` as it was. */
  beforeRename?: () => void;
}

/**
 * Writes all of `bytes` at the file's position: one write(2) may take only part of it (a disk full
 * for a moment, RLIMIT_FSIZE), and the rest must follow, not be dropped from the middle of the file.
 */
export async function writeAllBytes(fh: fsp.FileHandle, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length; ) {
    const { bytesWritten } = await fh.write(bytes, off, bytes.length - off);
    if (bytesWritten === 0) throw new Error(`wrote nothing of the last ${bytes.length - off} bytes`);
    off += bytesWritten;
  }
}

/**
 * Writes `data` (text, bytes, or pieces of bytes written in order) to `file` so that a reader (or a crash) sees either the old content or the new one,
 * never a mix: a temp file `.ckptd-tmp-<name>-<random>` in the same folder, fsync, rename, fsync
 * of the folder. A full disk throws `NoSpaceError`; the temp file is removed on any failure (a
 * crash leaves it for `sweepStore`, or for the next write's caller to ignore: readers skip the prefix).
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array | AsyncIterable<Uint8Array>, opts: WriteFileOptions = {}): Promise<void> {
  const tmp = tempNameFor(file);
  const mode = opts.mode ?? 0o644;
  try {
    const fh = await fsp.open(tmp, 'wx', mode);
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) await fh.writeFile(data);
      else for await (const piece of data) await writeAllBytes(fh, piece);
      if (opts.keepUmask !== true) await fh.chmod(mode);
      if (opts.times) await fh.utimes(opts.times.atime, opts.times.mtime);
      await fh.sync();
    } finally {
      await fh.close();
    }
    opts.beforeRename?.();
    await commitStaged(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw withPath(err, 'writing', file);
  }
}

/**
 * `writeFileAtomic` for synchronous callers (the CLI's `init` and `install-service`): the same
 * steps in the same order, with the same temp name and failure cleanup.
 */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, opts: WriteFileOptions = {}): void {
  const tmp = tempNameFor(file);
  const mode = opts.mode ?? 0o644;
  try {
    const fd = fs.openSync(tmp, 'wx', mode);
    try {
      fs.writeFileSync(fd, data);
      if (opts.keepUmask !== true) fs.fchmodSync(fd, mode);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw withPath(err, 'writing', file);
  }
  const fd = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** How `commitStaged` puts a staged file or folder in place. */
export interface CommitOptions {
  /**
   * Never replace what is at `final` (throws `TargetExistsError`). A file is placed by link +
   * unlink: link(2) fails when `final` exists, so nothing can be replaced; a crash between the two
   * leaves the staged name too, which the sweep removes. A folder (or a file on a file system
   * without hard links) is checked with lstat, then renamed: rename(2) would replace an empty folder
   * (or, for a file, anything but a folder) created at `final` in the few microseconds between the
   * two (Node has no renameat2(RENAME_NOREPLACE)). Only ckptd writes names carrying a new id, under
   * the store's lock, so nothing is expected to appear there.
   */
  noReplace?: boolean;
  /**
   * Collect the folders to fsync here instead of fsyncing them now: the caller must `syncDirs` them
   * before it reports the commit done (a restore renames thousands of files into a few folders).
   */
  deferSync?: Set<string>;
}

/**
 * Puts `staged` (a file or folder the caller wrote and fsynced, contents and subfolders included)
 * at `final` by rename, then fsyncs `final`'s folder and `staged`'s folder (when it differs), so
 * the rename itself survives a power loss. A crash before the rename leaves `final` as it was and
 * `staged` for the sweep; after it, `final` is complete. Errors of link(2) carry `final`'s path.
 */
export async function commitStaged(staged: string, final: string, opts: CommitOptions = {}): Promise<void> {
  if (opts.noReplace === true) await placeNoReplace(staged, final);
  else await fsp.rename(staged, final);
  const dirs = [path.dirname(final), path.dirname(staged)];
  if (opts.deferSync !== undefined) {
    for (const d of dirs) opts.deferSync.add(d);
    return;
  }
  await syncDirs(dirs);
}

async function placeNoReplace(staged: string, final: string): Promise<void> {
  const st = await fsp.lstat(staged);
  if (st.isFile()) {
    try {
      await fsp.link(staged, final);
      await fsp.unlink(staged);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new TargetExistsError(final);
      // File systems without hard links (FAT, some network mounts) fall through to rename.
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw withPath(err, 'placing', final);
    }
  }
  if (await existsNoFollow(final)) throw new TargetExistsError(final);
  await fsp.rename(staged, final);
}

/** How `ensureDirDurable` creates folders. */
export interface EnsureDirOptions {
  mode: number;
  /** chmod each folder it creates to `mode` exactly, whatever the umask (default: `mode` less the umask). */
  exactMode?: boolean;
}

/**
 * Creates `dir` and every missing folder above it, outermost first, each with a non-recursive mkdir
 * followed by an fsync of its parent, so a folder a later commit renames into survives a power loss
 * with it. A folder made meanwhile by someone else (EEXIST) is theirs: its mode is left alone.
 * Returns the folders this call created.
 */
export async function ensureDirDurable(dir: string, opts: EnsureDirOptions): Promise<string[]> {
  const created: string[] = [];
  for (const d of await missingFolders(dir)) {
    try {
      await fsp.mkdir(d, { mode: opts.mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
    if (opts.exactMode === true) await fsp.chmod(d, opts.mode);
    await fsyncDir(path.dirname(d));
    created.push(d);
  }
  return created;
}

/** `dir` and its ancestors that do not exist, outermost first. */
async function missingFolders(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let cur = path.resolve(dir); ; cur = path.dirname(cur)) {
    try {
      await fsp.stat(cur);
      return missing.reverse();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || cur === path.dirname(cur)) throw err;
      missing.push(cur);
    }
  }
}
