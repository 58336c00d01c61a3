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
export function lstatInRun(runDir: string, runReal: string, rel: string): { st: BigIntStats; target?: string } | null {
  const dirRel = path.posix.dirname(rel);
  const dir = path.join(runDir, dirRel);
  const want = path.join(runReal, dirRel);
  const name = path.posix.basename(rel);
  let fd: number;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw withPath(err, 'cannot open', dir);
  }
  try {
    checkOpenedPath(fd, dir, want);
    const at = hasProcFd() ? `/proc/self/fd/${fd}/${name}` : path.join(dir, name);
    const st = fs.lstatSync(at, { bigint: true, throwIfNoEntry: false });
    if (st === undefined) return null;
    return st.isSymbolicLink() ? { st, target: fs.readlinkSync(at) } : { st };
  } catch (err) {
    if (err instanceof FileVanishedError) return null;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EINVAL') return null;
    throw withPath(err, 'cannot stat', path.join(runDir, rel));
  } finally {
    fs.closeSync(fd);
  }
}
