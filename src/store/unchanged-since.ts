/**
 * The one rule that decides whether a run's file is still the version a previous snapshot stored,
 * so that the stored file may be hard-linked instead of copied. Used by the capture itself and by
 * the free-space estimate before it (`bytesToCopy`): both must agree.
 */
import type { ManifestEntry } from './types.js';

/** What a source looks like now (a `ScanEntry`, or a fresh lstat of it). */
export interface SourceVersion {
  type: 'file' | 'symlink';
  size: number;
  mtimeNs: string;
  ino: number;
  mode: number;
  ctimeNs?: string;
}

/**
 * True when `now` is a regular file with the same size, mtime, mode, inode and ctime as the stored
 * file `prev` recorded, as restic decides. Size and mtime alone miss a rewrite that restores the
 * mtime (`cp -p`, `touch -r`); the inode and ctime do not, since no write can set ctime back. A
 * manifest entry without inode or ctime (older snapshots), a symlink, or a source whose ctime is
 * unknown is never unchanged: the file is copied.
 */
export function unchangedSince(prev: ManifestEntry | null | undefined, now: SourceVersion): boolean {
  if (prev === undefined || prev === null || prev.type !== undefined || now.type !== 'file') return false;
  if (prev.ino === undefined || prev.ctime_ns === undefined || now.ctimeNs === undefined) return false;
  return prev.size === now.size && prev.mtime_ns === now.mtimeNs && prev.mode === now.mode && prev.ino === now.ino && prev.ctime_ns === now.ctimeNs;
}
