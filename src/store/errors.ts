/**
 * The store's error classes. Each carries the path it is about, so a log line or CLI message can
 * name the file without the caller adding context.
 */
import nodePath from 'node:path';
import { CkptdError } from '../util/errors.js';
import { formatBytes, printableName } from '../util/format.js';
import { statfsNearSync } from '../util/fs.js';
import { ckptdUser } from '../util/run-as.js';

/**
 * A source file changed while (or just before) it was copied: the copy was discarded, nothing torn
 * was kept. `changes` says what differed, e.g. `["size 10 -> 12", "mtime"]`.
 */
export class FileChangedError extends CkptdError {
  override readonly name = 'FileChangedError';
  constructor(
    readonly path: string,
    readonly changes: string[],
  ) {
    super(`${path} changed while it was being copied (${changes.join(', ')})`);
  }
}

/** A source file disappeared before it could be copied. */
export class FileVanishedError extends CkptdError {
  override readonly name = 'FileVanishedError';
  constructor(readonly path: string) {
    super(`${path} vanished before it could be copied`);
  }
}

/**
 * A file of the run could not be opened for reading: permission denied (EACCES/EPERM, kept as
 * `code`). The message names the file at its path in the run and says how to fix it.
 */
export class UnreadableFileError extends CkptdError {
  override readonly name = 'UnreadableFileError';
  constructor(
    readonly path: string,
    readonly code: string,
  ) {
    const shown = printableName(path);
    super(
      `cannot read ${shown}: permission denied (${code}) for ${ckptdUser()}; ` +
        `make it readable (chmod a+r ${shown}, or chown it to that user), or add it to the run's exclude`,
    );
  }
}

/**
 * The file opened for `path` is not the run's file at that path: a folder on the way was replaced by
 * a symlink (or the file renamed) between the scan and the open. Nothing of it was stored. `opened`
 * is where the opened file really is.
 */
export class PathSwappedError extends CkptdError {
  override readonly name = 'PathSwappedError';
  /** The reason recorded in a snapshot's `skipped`. */
  static readonly REASON = 'a folder on its path was replaced by a symlink';
  constructor(
    readonly path: string,
    readonly opened: string,
  ) {
    super(`${path} was not captured: ${PathSwappedError.REASON} (it now leads to ${opened})`);
  }
}

/**
 * The disk (or quota) filled up while writing `path` (ENOSPC / EDQUOT). Whatever was being written
 * was removed again; `code` keeps the original errno name. The message says when it is the file
 * system's inodes that ran out, not its bytes (`noSpaceMessage`).
 */
export class NoSpaceError extends CkptdError {
  override readonly name = 'NoSpaceError';
  constructor(
    readonly path: string,
    readonly code: string,
  ) {
    super(noSpaceMessage(path, code, statfsNearSync(nodePath.dirname(path))));
  }
}

/** What `noSpaceMessage` needs of a file system: `statfs`'s counts. */
export interface SpaceCounts {
  bavail: number;
  bsize: number;
  files: number;
  ffree: number;
}

/**
 * The message of a `NoSpaceError`. A file system with bytes free but (almost) no free inode, one
 * per file or folder, refuses new files with the same ENOSPC: a store of many small files meets it
 * first, and "free some space" sends people to `df -h`, which shows plenty.
 */
export function noSpaceMessage(path: string, code: string, counts: SpaceCounts | null): string {
  const freeBytes = counts === null ? 0 : counts.bavail * counts.bsize;
  const inodesOut = counts !== null && code === 'ENOSPC' && counts.files > 0 && counts.ffree <= Math.max(16, counts.files / 1000) && freeBytes >= 16 << 20;
  if (inodesOut) {
    return (
      `no free inodes left on the file system (${code}) while writing ${path}: ${counts.files - counts.ffree} of its ${counts.files} inodes ` +
      `(one per file or folder) are used though ${formatBytes(freeBytes)} is free (\`df -i\` shows them); delete files there or keep fewer snapshots, ` +
      'or put the store on a file system with more inodes'
    );
  }
  return `no space left on the device (${code}) while writing ${path}; free some space and try again`;
}

/**
 * Why folder `dir`, set by config key `key`, cannot be written (`code`: EACCES, EPERM or EROFS), who
 * ckptd runs as and what to do.
 */
function notWritableMessage(what: string, key: string, dir: string, code: string, detail: string): string {
  const why = code === 'EROFS' ? 'it is on a read-only file system' : `permission denied: ${ckptdUser()} may not write there`;
  return `cannot write ${what} ${dir}: ${why} (${detail}); ${code === 'EROFS' ? `set ${key} to a folder on a writable file system` : `give it write access to ${dir}, or set ${key} to a folder it may write`}`;
}

/** The store (or a folder above it ckptd must create) cannot be written by this process. Exit code 1. */
export class StoreNotWritableError extends CkptdError {
  override readonly name = 'StoreNotWritableError';
  constructor(store: string, code: string, detail: string) {
    super(notWritableMessage('the store', 'store', store, code, detail));
  }
}

/** A run's `save.to` (or a folder above it ckptd must create) cannot be written by this process. Exit code 1. */
export class SaveToNotWritableError extends CkptdError {
  override readonly name = 'SaveToNotWritableError';
  constructor(saveTo: string, code: string, detail: string) {
    super(notWritableMessage('save.to', 'save.to', saveTo, code, detail));
  }
}

/**
 * The scan could not read some folders of the run. `problems` names each; the state is incomplete,
 * so it is not captured.
 */
export class ScanError extends CkptdError {
  override readonly name = 'ScanError';
  constructor(readonly problems: { path: string; error: string }[]) {
    super(`cannot read ${problems.map((p) => `${p.path} (${p.error})`).join(', ')}`);
  }
}

/**
 * Another process holds the store's lock. The message names it (pid, host, since, command).
 * Exit code 3: refused for safety.
 */
export class StoreLockedError extends CkptdError {
  override readonly exitCode = 3;
  override readonly name = 'StoreLockedError';
  constructor(
    readonly store: string,
    message: string,
  ) {
    super(message);
  }
}

/** `err` with `what` and `path` in front of its message, keeping its `code` (for EACCES, EIO, ...). */
export function withPath(err: unknown, what: string, path: string): Error {
  const e = err as NodeJS.ErrnoException;
  if (e instanceof CkptdError) return e;
  if (e?.code === 'ENOSPC' || e?.code === 'EDQUOT') return new NoSpaceError(path, e.code);
  if (typeof e?.message === 'string' && e.message.includes(path)) return e;
  const wrapped = new Error(`${what} ${path}: ${e?.message ?? String(err)}`, { cause: err }) as NodeJS.ErrnoException;
  if (e?.code !== undefined) wrapped.code = e.code;
  return wrapped;
}
