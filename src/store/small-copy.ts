/**
 * The copy of one small file (up to `SMALL_FILE`), synchronously, in functions that use nothing but
 * their arguments and each other (no import, no constant of this module): the main thread runs
 * them (`copySmallFileSync`) and so does the worker that takes a share of a pass's small copies
 * (`small-copy-worker.ts`, which evaluates `SMALL_COPY_SOURCE`). A failure is a value the caller
 * turns into the store's errors (`smallCopyError`), never an exception that could not cross to
 * the main thread: the same checks and the same outcome on either thread. The copy of a large file
 * (`capture-file.ts`) makes the same checks before and after (`differsFromEntry`, `changedSince`).
 *
 * Contract of `copySmall`: opens `open` (the source `src`, or the name of `src` inside its checked
 * open folder of the run) without following a symlink or blocking on a FIFO; with `check`, calls it
 * with the open fd (it may throw: nothing copied). The open source must match `expect` (a regular
 * file, size, mtime, mode, inode, and ctime when `expect` has one); it is read whole with one read
 * asking for one byte more (a file that grew shows at once) into `buf` (`size + 1` bytes at least),
 * those bytes hashed and written to a NEW file `dst` (never overwriting one), which gets `mode`
 * once the open source (fstat) and the path `src` (lstat) still show the same size, mtime, ctime
 * and inode. Returns the digest, the source's ctime and the copy's fd, still open (the caller
 * fsyncs or closes it: `closeSmallCopy`), or a failure: `vanished` (gone before the open),
 * `changed` (what changed), `unreadable` (EACCES, EPERM) or `error` (any other error of the open,
 * the read, the create or the write: what, the path to name, the error). `dst` never survives a
 * failure or a throw.
 */

import type { BigIntStats } from 'node:fs';

/** What `copySmall` checks the open source against: a scan entry is one. */
export interface SmallSource {
  size: number;
  mtimeNs: string;
  mode: number;
  ino: number;
  ctimeNs?: string | undefined;
}

/** Why a small copy was not made (`copySmall`, `closeSmallCopy`). */
export type SmallCopyFailure =
  | { fail: 'vanished' }
  | { fail: 'changed'; changes: string[] }
  | { fail: 'unreadable'; code: string }
  | { fail: 'error'; what: string; path: string; err: unknown };

/** A small copy made: complete, checked and of its mode, its fd still open. */
export interface SmallCopyMade {
  fail?: undefined;
  sha256: string;
  ctimeNs: string;
  fd: number;
}

/** Copies one small file (see the file comment); throws only what `check` throws. */
export function copySmall(
  fs: typeof import('node:fs'),
  hash: (algorithm: string, data: Buffer, encoding: 'hex') => string,
  buf: Buffer,
  open: string,
  src: string,
  dst: string,
  expect: SmallSource,
  mode: number,
  check?: (fd: number) => void,
): SmallCopyMade | SmallCopyFailure {
  const c = fs.constants;
  let input: number;
  try {
    // O_NOFOLLOW: a symlink swapped in is not followed; O_NONBLOCK: a FIFO swapped in cannot hang us.
    input = fs.openSync(open, c.O_RDONLY | c.O_NOFOLLOW | c.O_NONBLOCK);
  } catch (err) {
    return openFailure(err, src);
  }
  let output = -1;
  // Removes the copy made so far: it never survives a failure.
  const discard = (): void => {
    if (output < 0) return;
    try {
      fs.closeSync(output);
    } catch {
      // A deferred error on a copy being discarded anyway.
    }
    try {
      fs.rmSync(dst, { force: true });
    } catch {
      // Left for the caller, which removes its whole staging folder on failure.
    }
    output = -1;
  };
  try {
    check?.(input);
    const before = fs.fstatSync(input, { bigint: true });
    const changes = differsFromEntry(before, expect);
    if (changes.length > 0) return { fail: 'changed', changes };

    let n = 0;
    try {
      // One byte more than expected: a file that grew shows at once. No extra read to see the end
      // of the file: the checks after the copy catch anything appended later.
      while (n < expect.size) {
        const got = fs.readSync(input, buf, n, expect.size + 1 - n, n);
        if (got === 0) break;
        n += got;
      }
    } catch (err) {
      return { fail: 'error', what: 'reading', path: src, err };
    }
    if (n < expect.size) return { fail: 'changed', changes: [`size ${expect.size} -> ${n} (shrank during the copy)`] };
    if (n > expect.size) return { fail: 'changed', changes: [`size ${expect.size} -> over ${expect.size} (grew during the copy)`] };
    const data = buf.subarray(0, n);
    // One call, no Hash object: for files of a few hundred bytes the object cost more than the hashing.
    const sha256 = hash('sha256', data, 'hex');

    try {
      // Created exclusively: an existing file is never overwritten, and from here on `dst` is ours
      // to remove on failure.
      output = fs.openSync(dst, 'wx', 0o600);
    } catch (err) {
      return { fail: 'error', what: 'cannot create', path: dst, err };
    }
    try {
      for (let off = 0; off < n; ) off += fs.writeSync(output, data, off, n - off, off);
    } catch (err) {
      discard();
      return { fail: 'error', what: 'writing', path: dst, err };
    }

    const afterFd = fs.fstatSync(input, { bigint: true });
    let afterPath: BigIntStats | null;
    try {
      afterPath = fs.lstatSync(src, { bigint: true, throwIfNoEntry: false }) ?? null;
    } catch {
      afterPath = null;
    }
    const after = changedSince(before, afterFd, afterPath);
    if (after.length > 0) {
      discard();
      return { fail: 'changed', changes: after };
    }
    try {
      fs.fchmodSync(output, mode);
    } catch (err) {
      discard();
      return { fail: 'error', what: 'writing', path: dst, err };
    }
    const fd = output;
    output = -1;
    return { sha256, ctimeNs: before.ctimeNs.toString(), fd };
  } catch (err) {
    discard();
    throw err;
  } finally {
    try {
      fs.closeSync(input);
    } catch {
      // Already closed (EBADF): nothing to release.
    }
  }
}

/**
 * Closes a small copy's fd without an fsync (for a copy made durable later with the rest of a
 * batch); when close(2) reports an error (a write error deferred by the file system, NFS) the copy
 * is removed and the failure returned, else null. Self-contained, as `copySmall`.
 */
export function closeSmallCopy(fs: typeof import('node:fs'), fd: number, dst: string): SmallCopyFailure | null {
  try {
    fs.closeSync(fd);
    return null;
  } catch (err) {
    // Linux frees the descriptor even when close fails: closing it again could close a file
    // another thread has opened under that number since.
    try {
      fs.rmSync(dst, { force: true });
    } catch {
      // Left for the caller, which removes its whole staging folder on failure.
    }
    return { fail: 'error', what: 'writing', path: dst, err };
  }
}

/** Why a source could not be opened: gone, a symlink swapped in, not readable, or another error. */
export function openFailure(err: unknown, src: string): SmallCopyFailure {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return { fail: 'vanished' };
  if (code === 'ELOOP') return { fail: 'changed', changes: ['is now a symlink'] };
  // Node's message would name the path actually opened, an internal /proc/self/fd/N/... one.
  if (code === 'EACCES' || code === 'EPERM') return { fail: 'unreadable', code };
  return { fail: 'error', what: 'cannot open', path: src, err };
}

/**
 * What changed since `before` (the open source's fstat before the copy), from the open file's
 * fstat and the path's lstat (null: gone) after it. Empty when the copy is of an unchanged version.
 */
export function changedSince(before: BigIntStats, afterFd: BigIntStats, afterPath: BigIntStats | null): string[] {
  const after = differsFromStat(before, afterFd);
  if (afterPath === null) after.push('removed or renamed');
  else if (!afterPath.isFile() || afterPath.ino !== before.ino || afterPath.dev !== before.dev) after.push('path now names another file');
  else after.push(...differsFromStat(before, afterPath).filter((c) => !after.includes(c)));
  return after;
}

/** What differs between the open source and the scan's view of it. */
export function differsFromEntry(st: BigIntStats, e: SmallSource): string[] {
  const out: string[] = [];
  if (!st.isFile()) return ['no longer a regular file'];
  if (Number(st.size) !== e.size) out.push(`size ${e.size} -> ${st.size}`);
  if (st.mtimeNs.toString() !== e.mtimeNs) out.push('mtime');
  // The copy's mode is the entry's (read and execute bits): a chmod since the scan is a change.
  if (Number(st.mode & 0o7777n) !== e.mode) out.push('mode');
  if (Number(st.ino) !== e.ino) out.push('replaced (inode)');
  // A rewrite that restored the mtime (`touch -r`) still moves the ctime.
  else if (e.ctimeNs !== undefined && st.ctimeNs.toString() !== e.ctimeNs) out.push('ctime');
  return out;
}

function differsFromStat(a: BigIntStats, b: BigIntStats): string[] {
  const out: string[] = [];
  if (a.size !== b.size) out.push(`size ${a.size} -> ${b.size}`);
  if (a.mtimeNs !== b.mtimeNs) out.push('mtime');
  if (a.ctimeNs !== b.ctimeNs) out.push('ctime');
  if (a.ino !== b.ino) out.push('replaced (inode)');
  return out;
}

/**
 * The source of this module's functions, for a worker to evaluate (`small-copy-worker.ts`): each
 * uses nothing but its arguments and the others.
 */
export const SMALL_COPY_SOURCE = [openFailure, differsFromStat, differsFromEntry, changedSince, copySmall, closeSmallCopy].map((f) => f.toString()).join('\n');
