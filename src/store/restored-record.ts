/**
 * `<store>/restored.json`: which files a restore wrote into the run, each with the identity it had
 * once in place (inode, ctime, mtime, size). A restore writes fresh copies, so no manifest knows
 * their inodes and ctimes: without this record the next snapshot copies every restored file again,
 * even one the trainer never touched since (a 12 GB state restored, then a log line written: 12 GB
 * copied). With it, the next snapshot links such a file from the restored snapshot, by the same
 * rule as any unchanged file (`unchangedSince`). See `ops/restored-link-source.ts`.
 *
 * Written atomically by the restore (the lock holder), read by the capture; a missing, unreadable
 * or malformed record reads as none (the files are then copied, as before).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './durable.js';
import { isValidId } from './ids.js';
import { isSafeRelPath } from './layout.js';

/** One file a restore wrote, as it was once in place. */
export interface RestoredFile {
  path: string;
  size: number;
  mode: number;
  mtime_ns: string;
  ino: number;
  ctime_ns: string;
}

export interface RestoredRecord {
  /** The run restored into. */
  run: string;
  /** The snapshot restored: the written files hold its stored bytes. */
  snapshot: string;
  /**
   * The newest good snapshot once the restore was done (its pre-restore snapshot, usually): the
   * record describes the run only until a newer one is taken.
   */
  newest: string | null;
  files: RestoredFile[];
}

/** `<store>/restored.json`. */
export function restoredRecordFile(store: string): string {
  return path.join(store, 'restored.json');
}

/** Writes the record atomically (temp, fsync, rename, fsync of the folder). The caller holds the lock. */
export async function writeRestoredRecord(store: string, record: RestoredRecord): Promise<void> {
  await writeFileAtomic(restoredRecordFile(store), `${JSON.stringify(record)}\n`);
}

/** The record, or null when there is none or it is not a valid one. */
export async function readRestoredRecord(store: string): Promise<RestoredRecord | null> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fsp.readFile(restoredRecordFile(store), 'utf8'));
  } catch {
    return null;
  }
  return isRecord(raw) ? raw : null;
}

/** Removes the record once it describes the run no more; a missing one is fine. The caller holds the lock. */
export async function removeRestoredRecord(store: string): Promise<void> {
  await fsp.rm(restoredRecordFile(store), { force: true });
}

function isRecord(v: unknown): v is RestoredRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.run === 'string' &&
    typeof r.snapshot === 'string' &&
    isValidId(r.snapshot) &&
    (r.newest === null || (typeof r.newest === 'string' && isValidId(r.newest))) &&
    Array.isArray(r.files) &&
    r.files.every(isRestoredFile)
  );
}

function isRestoredFile(v: unknown): v is RestoredFile {
  if (typeof v !== 'object' || v === null) return false;
  const f = v as Record<string, unknown>;
  return (
    typeof f.path === 'string' &&
    isSafeRelPath(f.path) &&
    Number.isSafeInteger(f.size) &&
    Number.isSafeInteger(f.mode) &&
    Number.isSafeInteger(f.ino) &&
    typeof f.mtime_ns === 'string' &&
    /^\d+$/.test(f.mtime_ns) &&
    typeof f.ctime_ns === 'string' &&
    /^\d+$/.test(f.ctime_ns)
  );
}
