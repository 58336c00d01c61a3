/**
 * Copying one file of the run into the store so that the copy is provably a version the writer
 * had finished: the source must look exactly as the scan saw it before the copy, and must not have
 * changed in any way (size, mtime, ctime, inode, path) when the copy is done. The hash is taken
 * while copying, from the very inode copied, never by a second read of a source that may have
 * moved on since.
 *
 * Two ways, by size:
 * - a small file (up to `SMALL_FILE`) is read whole by one read of the opened source into one
 *   buffer, which is hashed and written to the new file: the stored bytes are the hashed bytes.
 *   Everything but the fsync runs synchronously (`copySmallFileSync`): for a file of a few KB a
 *   thread-pool round trip per call cost several times the calls themselves.
 * - a larger file is copied by a worker thread (`hash-workers.ts`) that reads each chunk of the
 *   opened inode once, hashes it and writes those same bytes: the stored bytes are the hashed
 *   bytes, the copy ends at the size expected even if the source shrinks meanwhile, holes of a
 *   sparse source stay holes, and two large files are copied on two cores. Where the file systems
 *   share blocks copy-on-write it is a reflink instead (`clone-file.ts`), the source hashed on a worker.
 *
 * The checks before and after a copy and both copy paths are one guarantee (the stored bytes are a
 * finished version of the source at that path): read this file whole with `small-copy.ts`, which
 * holds the checks and the small copy itself (run on the main thread here, and by the worker that
 * takes a share of a pass's small copies, `small-copy-worker.ts`).
 */
import { hash } from 'node:crypto';
import fs from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { FileChangedError, FileVanishedError, UnreadableFileError, withPath } from './errors.js';
import { cloneOpenFile } from './clone-file.js';
import { CopyWriteError, copyOpenFileOnWorker, hashOpenFileOnWorker, ShortReadError } from './hash-workers.js';
import { checkOpenedPath } from './opened-path.js';
import { changedSince, closeSmallCopy, copySmall, differsFromEntry, openFailure, type SmallCopyFailure } from './small-copy.js';
import type { ScanEntry } from './types.js';

/** Re-exported: the errors `captureFile` throws. */
export { FileChangedError, FileVanishedError } from './errors.js';

/** Files up to this size are copied by `copySmallFileSync` (one read, one write); larger ones on a worker (`copyAndHash`). */
export const SMALL_FILE = 1 << 20;

// O_NOFOLLOW: a symlink swapped in is not followed; O_NONBLOCK: a FIFO swapped in cannot hang us.
const OPEN_SOURCE = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/**
 * The one buffer of every small copy (they run synchronously, one at a time), one byte longer than
 * `SMALL_FILE` so that a read can see a file that grew.
 */
let smallBuffer: Buffer | null = null;

const fsync = promisify(fs.fsync);

/** How `captureFile` creates the copy. */
export interface CaptureOptions {
  /** Mode of the new file (set before its fsync). Default 0o444. */
  mode?: number;
  /** Called with the number of bytes just written, as the copy proceeds. */
  onBytes?: (n: number) => void;
  /**
   * The real path the opened source must have (the run folder's real path + the relative path):
   * when the open reached another file (a folder on the way swapped for a symlink), nothing is
   * copied and `PathSwappedError` is thrown. Unchecked when absent.
   */
  inRun?: string;
}

/** What `captureFile` stored. */
export interface Captured {
  /** sha256 (hex) of the bytes written to `dst`. */
  sha256: string;
  size: number;
  /** The source's ctime (ns, decimal) during the copy: lets a caller check later it is still that version. */
  ctimeNs: string;
}

/** A copy made by `copySmallFileSync`: complete, checked and read-only, but not yet durable. */
export interface PendingCopy extends Captured {
  /**
   * fsyncs and closes the copy; on failure removes it and rejects (path in the message, a full disk
   * as `NoSpaceError`). It or `close` must be called exactly once, at once: until then the copy
   * holds an open fd.
   */
  sync(): Promise<void>;
  /**
   * Closes the copy without an fsync, for a caller that makes it durable later with the rest of a
   * batch (`SyncBatch`); on failure removes it and throws (path in the message).
   */
  close(): void;
}

/**
 * Copies `src` to a NEW file `dst` (fails if `dst` exists), hashing the bytes copied, and fsyncs
 * `dst`. Guarantees the copy is the version `expect` describes, untouched during the copy: before,
 * the open source must match `expect` (regular file, size, mtimeNs, mode, ino, and ctimeNs when
 * `expect` has it); after, both the open file
 * and the path must still show the same size, mtime, ctime and inode. Otherwise `dst` is removed and
 * `FileChangedError` (path, what changed) is thrown. With `inRun`, the opened file must be at that
 * real path, else `PathSwappedError` is thrown. A missing source throws `FileVanishedError`;
 * a full disk `NoSpaceError`; a source it may not open (EACCES, EPERM) `UnreadableFileError`;
 * other errors (EIO, ...) propagate with the path in the message. `dst` never survives a failure. Memory use is bounded (two 1 MiB buffers per hash
 * worker). A file of up to `SMALL_FILE` bytes is copied by `copySmallFileSync` (`onBytes` hears its
 * size once, after the copy).
 */
export async function captureFile(src: string, dst: string, expect: ScanEntry, opts: CaptureOptions = {}): Promise<Captured> {
  if (expect.size <= SMALL_FILE) {
    const copy = copySmallFileSync(src, dst, expect, opts.mode ?? 0o444, opts.inRun);
    const durable = copy.sync();
    try {
      opts.onBytes?.(copy.size);
    } catch (err) {
      await durable.catch(() => undefined);
      await fsp.rm(dst, { force: true }).catch(() => undefined);
      throw err;
    }
    await durable;
    return { sha256: copy.sha256, size: copy.size, ctimeNs: copy.ctimeNs };
  }
  let input: FileHandle;
  try {
    input = await fsp.open(src, OPEN_SOURCE);
  } catch (err) {
    throw openError(err, src);
  }
  let output: FileHandle | null = null;
  try {
    if (opts.inRun !== undefined) checkOpenedPath(input.fd, src, opts.inRun);
    const before = await input.stat({ bigint: true });
    const changes = differsFromEntry(before, expect);
    if (changes.length > 0) throw new FileChangedError(src, changes);

    try {
      // Created empty and exclusively first: an existing file is never overwritten, and from here
      // on `dst` is ours to remove on failure.
      output = await fsp.open(dst, 'wx', 0o600);
    } catch (err) {
      throw withPath(err, 'cannot create', dst);
    }
    const sha256 = await copyAndHash(input, src, dst, expect.size, opts.onBytes);
    const written = await output.stat();
    if (written.size !== expect.size) throw new FileChangedError(src, [`size ${expect.size} -> ${written.size} (changed during the copy)`]);

    const after = changedSince(before, await input.stat({ bigint: true }), await fsp.lstat(src, { bigint: true }).catch(() => null));
    if (after.length > 0) throw new FileChangedError(src, after);

    try {
      await output.chmod(opts.mode ?? 0o444);
      await output.sync();
    } catch (err) {
      throw withPath(err, 'writing', dst);
    }
    await output.close();
    output = null;
    return { sha256, size: expect.size, ctimeNs: before.ctimeNs.toString() };
  } catch (err) {
    if (output !== null) {
      await output.close().catch(() => undefined);
      await fsp.rm(dst, { force: true }).catch(() => undefined);
    }
    throw err;
  } finally {
    await input.close().catch(() => undefined);
  }
}

/**
 * `captureFile` for a file of at most `SMALL_FILE` bytes, with the same checks and errors, run
 * synchronously up to the fsync, which the returned copy's `sync()` does in the thread pool. The
 * source is read whole with one read (asking for one byte more, so a file that grew is seen at
 * once), and that buffer is hashed and written: the stored bytes are exactly the hashed ones. The
 * copy gets `mode` once every check has passed; `inRun` is checked as `CaptureOptions.inRun`, or,
 * given as `{ at }`, names the source inside a checked open folder of the run
 * (`RunFolders.pathOf`): that path is opened instead of `src` (a name looked up in that very
 * folder, so nothing else needs checking; messages still say `src`). Blocks the event loop for the
 * calls of one file (a few tens of microseconds for a cached file of a few KB). `dst` never
 * survives a thrown error.
 */
export function copySmallFileSync(src: string, dst: string, expect: ScanEntry, mode: number, inRun?: string | { at: string }): PendingCopy {
  if (expect.size > SMALL_FILE) throw new RangeError(`${src}: ${expect.size} bytes, over SMALL_FILE (${SMALL_FILE})`);
  const buf = (smallBuffer ??= Buffer.allocUnsafe(SMALL_FILE + 1));
  const check = typeof inRun === 'string' ? (fd: number) => checkOpenedPath(fd, src, inRun) : undefined;
  const got = copySmall(fs, hash, buf, typeof inRun === 'object' ? inRun.at : src, src, dst, expect, mode, check);
  if (got.fail !== undefined) throw smallCopyError(got, src);
  const fd = got.fd;
  return { sha256: got.sha256, size: expect.size, ctimeNs: got.ctimeNs, sync: () => syncAndClose(fd, dst), close: () => closeOrDiscard(fd, dst) };
}

/** The error a failed small copy of `src` throws (`copySmall`'s failure, on whichever thread it ran). */
export function smallCopyError(f: SmallCopyFailure, src: string): Error {
  if (f.fail === 'vanished') return new FileVanishedError(src);
  if (f.fail === 'changed') return new FileChangedError(src, f.changes);
  if (f.fail === 'unreadable') return new UnreadableFileError(src, f.code);
  return withPath(f.err, f.what, f.path);
}

/** fsync, then close, a small copy's fd; on failure the copy is removed. */
async function syncAndClose(fd: number, dst: string): Promise<void> {
  try {
    await fsync(fd);
  } catch (err) {
    discard(fd, dst);
    throw withPath(err, 'writing', dst);
  }
  closeOrDiscard(fd, dst);
}

/** Closes a small copy's fd without an fsync; on failure the copy is removed. */
function closeOrDiscard(fd: number, dst: string): void {
  const failed = closeSmallCopy(fs, fd, dst);
  if (failed !== null) throw smallCopyError(failed, dst);
}

/** Closes `fd` (if still open) and removes `dst`, ignoring errors: the caller is already failing. */
function discard(fd: number, dst: string): void {
  closeQuietly(fd);
  removeQuietly(dst);
}

function removeQuietly(dst: string): void {
  try {
    fs.rmSync(dst, { force: true });
  } catch {
    // Left for the caller, which removes its whole staging folder on failure.
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed (EBADF) or a deferred error on a file being discarded anyway.
  }
}

/** The error for a source that could not be opened. */
function openError(err: unknown, src: string): Error {
  return smallCopyError(openFailure(err, src), src);
}

/**
 * Copies the open source into `dst` (the caller's new, empty file) and returns the sha256 of the
 * copy: a reflink where the file systems can clone (`cloneOpenFile`, then the source is hashed on a
 * worker), else a worker reads each chunk of the open source once, hashes it and writes those same
 * bytes (`copyOpenFileOnWorker`): the stored bytes are the hashed bytes, and the holes of a sparse
 * source stay holes. Never reads past `size`, so it ends even when the source is truncated under
 * it: a source that ends early throws `FileChangedError`; one that grew or changed is caught by
 * the caller's checks after the copy. A failed write throws with `dst` in the message (a full disk
 * as `NoSpaceError`), a failed read with `src`. Holds no fd once it settles; removing `dst` on
 * failure is the caller's.
 */
async function copyAndHash(input: FileHandle, src: string, dst: string, size: number, onBytes?: (n: number) => void): Promise<string> {
  let output: FileHandle;
  try {
    // `dst` again, for this copy's own fd: the caller keeps its own for the checks after the copy.
    output = await fsp.open(dst, fs.constants.O_RDWR | fs.constants.O_NOFOLLOW);
  } catch (err) {
    throw withPath(err, 'writing', dst);
  }
  try {
    const [from, to] = await Promise.all([input.stat(), output.stat()]);
    // Must still be the new empty file the caller just made: never write into another one.
    if (!to.isFile() || to.size !== 0 || to.nlink !== 1) throw new Error(`writing ${dst}: no longer the new empty file made for this copy`);
    const cloned = await cloneOpenFile(input.fd, output.fd, from.dev, to.dev);
    const sha256 = await (cloned ? hashOpenFileOnWorker(input.fd, size, onBytes) : copyOpenFileOnWorker(input.fd, output.fd, size, onBytes)).catch((err: unknown) => {
      if (err instanceof ShortReadError) throw new FileChangedError(src, [`size ${size} -> ${err.at} (shrank during the copy)`]);
      if (err instanceof CopyWriteError) throw withPath(err, 'writing', dst);
      throw withPath(err, 'reading', src);
    });
    // close(2) can report a write error deferred by the file system (NFS).
    await output.close().catch((err: unknown) => {
      throw withPath(err, 'writing', dst);
    });
    return sha256;
  } finally {
    await output.close().catch(() => undefined);
  }
}
