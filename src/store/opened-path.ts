/**
 * Making sure what the capture reads is really the run's file at the expected path, never a file
 * reached through a folder of the run that was swapped for a symlink to somewhere else (SPEC
 * section 6: symbolic links are never followed out of the run). Node has no openat(2); on Linux
 * `/proc/self/fd/N` stands in: its link names where an open fd really is, and a path through it
 * resolves inside the opened folder whatever happens to the folder's name afterwards.
 */
import fs, { type BigIntStats } from 'node:fs';
import path from 'node:path';
import { FileVanishedError, PathSwappedError, withPath } from './errors.js';

/** Whether `/proc/self/fd` exists (Linux with /proc mounted): checked once. */
let procFd: boolean | undefined;
function hasProcFd(): boolean {
  return (procFd ??= fs.existsSync('/proc/self/fd'));
}

/**
 * Checks that the open `fd` (opened from `src`) is the file at the real path `want`. Throws
 * `PathSwappedError` when it is elsewhere, `FileVanishedError` when it was deleted meanwhile.
 * Without `/proc/self/fd` it compares `src`'s real path instead (best effort: that can race).
 */
export function checkOpenedPath(fd: number, src: string, want: string): void {
  let real: string;
  try {
    real = hasProcFd() ? fs.readlinkSync(`/proc/self/fd/${fd}`) : fs.realpathSync(src);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new FileVanishedError(src);
    throw withPath(err, 'cannot check where it leads:', src);
  }
  if (real === want) return;
  if (real.endsWith(' (deleted)')) throw new FileVanishedError(src);
  throw new PathSwappedError(src, real);
}

/**
 * lstat of `runDir/rel` (and readlink, for a symlink) read inside the run's own folder: the parent
 * folder is opened and checked to really be `runReal/dirname(rel)` (`runReal`: the run folder's
 * real path), then the name is looked up in that very folder. Returns the lstat and target, null
 * when the file (or its folder) is gone; throws `PathSwappedError` when the folder is not the run's.
 */
export function lstatInRun(runDir: string, runReal: string, rel: string): InRunStat | null {
  const dirRel = path.posix.dirname(rel);
  const fd = openRunFolder(runDir, runReal, dirRel);
  if (fd === null) return null;
  try {
    return lstatAt(fd, runDir, rel);
  } finally {
    fs.closeSync(fd);
  }
}

/** An lstat read inside the run's own folder, with the target of a symlink. */
export interface InRunStat {
  st: BigIntStats;
  target?: string;
}

/**
 * `lstatInRun` for many names: each folder of the run is opened and checked once, and its names
 * are looked up through that open folder (`/proc/self/fd/N/name`), instead of opening and checking
 * the folder again for every name (three of the eight system calls of a file linked from the
 * previous snapshot). What a lookup finds is in the folder that was checked to be the run's, whatever
 * happens to the folder's path afterwards: a folder swapped for a symlink after it was opened is
 * seen by the next `RunFolders` (the capture's consistency pass uses its own); a name not found
 * is looked up once more in a fresh open of its folder (removed and made again under the same name,
 * it is another folder). At most `OPEN_FOLDERS`
 * folders stay open (the oldest opened is closed first); `close` closes them all. Without
 * `/proc/self/fd` every lookup is a `lstatInRun`.
 */
export class RunFolders {
  /** Open and checked folders by relative path (`.` for the run folder). */
  private readonly fds = new Map<string, number>();

  constructor(
    private readonly runDir: string,
    private readonly runReal: string,
  ) {}

  /** As `lstatInRun(runDir, runReal, rel)`: null when gone, `PathSwappedError` when the folder is not the run's. */
  lstat(rel: string): InRunStat | null {
    if (!hasProcFd()) return lstatInRun(this.runDir, this.runReal, rel);
    const fd = this.folderOf(rel);
    if (fd === null) return null;
    const got = lstatAt(fd, this.runDir, rel);
    if (got !== null) return got;
    // Not in the folder opened earlier: that folder may have been removed and made again since.
    this.forget(rel);
    const again = this.folderOf(rel);
    return again === null ? null : lstatAt(again, this.runDir, rel);
  }

  /**
   * Closes the open folder of `rel`, if any: the next lookup opens and checks it anew. For a name
   * not found where it was expected (the folder at that path may be another one by now).
   */
  forget(rel: string): void {
    const dirRel = path.posix.dirname(rel);
    const fd = this.fds.get(dirRel);
    if (fd === undefined) return;
    this.fds.delete(dirRel);
    closeQuietly(fd);
  }

  /**
   * A path naming `rel` inside its checked open folder (`/proc/self/fd/N/name`), for an open(2)
   * made AT ONCE, synchronously (the folder may be closed by the next lookup). Null when the folder
   * is gone or there is no `/proc/self/fd` (then open the run's path and check where it led);
   * `PathSwappedError` when the folder is not the run's.
   */
  pathOf(rel: string): string | null {
    if (!hasProcFd()) return null;
    const fd = this.folderOf(rel);
    return fd === null ? null : `/proc/self/fd/${fd}/${path.posix.basename(rel)}`;
  }

  /**
   * The folder of `rel` opened and checked anew for a caller that holds it (for another thread's
   * opens through `/proc/self/fd/N/name`; closing it is the caller's, none of this cache's lookups
   * closes it): its fd, null when it is gone or there is no `/proc/self/fd`; `PathSwappedError`
   * when it is not the run's.
   */
  openFolder(rel: string): number | null {
    if (!hasProcFd()) return null;
    return openRunFolder(this.runDir, this.runReal, path.posix.dirname(rel));
  }

  /** The open, checked folder of `rel`; null when it is gone. */
  private folderOf(rel: string): number | null {
    const dirRel = path.posix.dirname(rel);
    const fd = this.fds.get(dirRel);
    if (fd !== undefined) return fd;
    // A folder gone or swapped is not remembered: it may be back by the next name.
    const opened = openRunFolder(this.runDir, this.runReal, dirRel);
    if (opened === null) return null;
    if (this.fds.size >= OPEN_FOLDERS) this.evictOldest();
    this.fds.set(dirRel, opened);
    return opened;
  }

  /** Closes every folder still open. The cache can be used again afterwards (it reopens). */
  close(): void {
    for (const fd of this.fds.values()) closeQuietly(fd);
    this.fds.clear();
  }

  private evictOldest(): void {
    const [oldest, fd] = this.fds.entries().next().value as [string, number];
    this.fds.delete(oldest);
    closeQuietly(fd);
  }
}

/** Folders a `RunFolders` keeps open: the files of one folder come together in path order. */
const OPEN_FOLDERS = 16;

/**
 * Opens the run's folder `dirRel` and checks it really is `runReal/dirRel`: its fd, null when it is
 * gone; `PathSwappedError` when it is elsewhere (its fd closed).
 */
function openRunFolder(runDir: string, runReal: string, dirRel: string): number | null {
  const dir = path.join(runDir, dirRel);
  let fd: number;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw withPath(err, 'cannot open', dir);
  }
  try {
    checkOpenedPath(fd, dir, path.join(runReal, dirRel));
    return fd;
  } catch (err) {
    closeQuietly(fd);
    if (err instanceof FileVanishedError) return null;
    throw err;
  }
}

/** lstat (and readlink) of the name of `rel` in the open folder `fd`; null when it is gone. */
function lstatAt(fd: number, runDir: string, rel: string): InRunStat | null {
  const at = hasProcFd() ? `/proc/self/fd/${fd}/${path.posix.basename(rel)}` : path.join(runDir, rel);
  try {
    const st = fs.lstatSync(at, { bigint: true, throwIfNoEntry: false });
    if (st === undefined) return null;
    return st.isSymbolicLink() ? { st, target: fs.readlinkSync(at) } : { st };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EINVAL') return null;
    throw withPath(err, 'cannot stat', path.join(runDir, rel));
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed: nothing to release.
  }
}
