/**
 * Reflinks (copy-on-write clones: btrfs, XFS, bcachefs, ...) of one open file into another, where
 * the file systems can: the copy then costs no data I/O at all. Asked with
 * `COPYFILE_FICLONE_FORCE`, which fails rather than falling back to libuv's own copy loop (that
 * loop never ends when the source shrinks while it runs). Files are named by `/proc/self/fd/N`, so
 * the clone is of exactly the inode opened and checked, into exactly the caller's new file; and a
 * failed clone cannot remove the destination (libuv unlinks the destination path on failure, and
 * a `/proc/self/fd` name cannot be unlinked).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { promisify } from 'node:util';

const ftruncate = promisify(fs.ftruncate);

/** Error codes that mean "these file systems cannot clone": not asked again for that pair of devices. */
const UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'ENOTTY', 'EBADF', 'EPERM']);

/** Pairs of devices (`from:to`) found unable to clone. */
const cannot = new Set<string>();

/** Whether `/proc/self/fd` exists (Linux with /proc mounted): checked once. */
let procFd: boolean | undefined;

/**
 * Clones the whole content of the open file `from` into the open, new, empty file `to` (both
 * regular files, `fromDev`/`toDev` their devices). True when cloned; false when not (no reflinks
 * there, another file system, no /proc, or the clone failed): `to` is then empty again and still
 * in place, for the caller to copy into. Never throws. `to` gets `from`'s mode bits (libuv sets
 * them); the caller sets its own afterwards.
 */
export async function cloneOpenFile(from: number, to: number, fromDev: number, toDev: number): Promise<boolean> {
  procFd ??= fs.existsSync('/proc/self/fd');
  const pair = `${fromDev}:${toDev}`;
  if (!procFd || cannot.has(pair)) return false;
  try {
    await fsp.copyFile(`/proc/self/fd/${from}`, `/proc/self/fd/${to}`, fs.constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch (err) {
    if (UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) cannot.add(pair);
    // A clone that failed part way (a full disk) must not leave blocks behind for the copy to miss.
    await ftruncate(to, 0).catch(() => undefined);
    return false;
  }
}
