/**
 * The restore's last step: recording, in `<store>/restored.json` (`store/restored-record.ts`), the
 * files it wrote as they are in place, so that the next snapshot links them from the restored one
 * instead of copying them again (`restored-link-source.ts`). Kept apart from `restore.ts`, whose
 * ordered procedure is done by then: nothing here touches the run.
 */
import fs, { type BigIntStats } from 'node:fs';
import path from 'node:path';
import fsp from 'node:fs/promises';
import type { RunConfig } from '../config/types.js';
import type { TargetFile } from '../policy/plan-restore.js';
import { storeOf } from '../store/local-store.js';
import { assertLockHeld, LockLostError } from '../store/lock-signal.js';
import { writeRestoredRecord, type RestoredFile } from '../store/restored-record.js';
import { walkInside } from '../store/safe-dir.js';
import type { SnapshotMeta } from '../store/types.js';
import type { Logger } from '../util/logger.js';

/** What tells one version of a file from another: its inode, size, mtime and ctime (ns). */
export interface FileIdentity {
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export function identityOf(st: BigIntStats): FileIdentity {
  return { ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

function isVersion(st: BigIntStats | undefined, id: FileIdentity): st is BigIntStats {
  return st !== undefined && st.isFile() && st.ino === id.ino && st.size === id.size && st.mtimeNs === id.mtimeNs && st.ctimeNs === id.ctimeNs;
}

/** lstat of `file`, undefined when it cannot be had (gone, unreadable): then nothing is recorded of it. */
export function lstatQuiet(file: string): BigIntStats | undefined {
  try {
    return fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/**
 * The identity of a checked copy as it is once renamed into place, to record; null when it cannot
 * be vouched for. `checked` is the staged copy's identity once its sha256 was checked and its times
 * set; `beforeRename` an lstat of the temp name just before the rename, `afterRename` of the final
 * name just after. The temp must still be that very version (a write to it since moved its ctime),
 * and the final name the same inode: the rename itself sets a new ctime, which is the one recorded,
 * so that any later write shows.
 */
export function placedCopy(checked: FileIdentity, beforeRename: BigIntStats | undefined, afterRename: BigIntStats | undefined): FileIdentity | null {
  if (!isVersion(beforeRename, checked)) return null;
  if (afterRename === undefined || !afterRename.isFile() || afterRename.ino !== checked.ino || afterRename.size !== checked.size || afterRename.mtimeNs !== checked.mtimeNs) return null;
  return identityOf(afterRename);
}

/** A file the restore staged and renamed into place: `placed` is what `placedCopy` vouched for (null: not recorded). */
export interface WrittenCopy {
  file: TargetFile;
  placed: FileIdentity | null;
}

/**
 * Records the files the restore wrote, each as it is now in place, for the next snapshot to link
 * them from the restored one (`store/restored-record.ts`). A file is recorded only when it is still
 * exactly the version placed (`placedCopy`: inode, size, mtime and ctime), so the restored bytes it
 * was checked to hold: a write at any moment since the check, even one that put the size and mtime
 * back, moved its ctime, and it is copied by the next snapshot instead. Best effort: a record that
 * cannot be written costs the next snapshot a copy of the restored files, nothing more, so the
 * restore does not fail for it.
 */
export async function recordRestored(run: RunConfig, snapshot: SnapshotMeta, root: string, written: WrittenCopy[], signal: AbortSignal | undefined, logger: Logger): Promise<void> {
  try {
    const files: RestoredFile[] = [];
    // One walk per folder, not per file: a restore may write 100,000 files into 100 folders.
    const dirs = new Map<string, Promise<string | null>>();
    for (const s of written) {
      if (s.placed === null || Number(s.placed.size) !== s.file.size) continue;
      const rel = path.posix.dirname(s.file.path);
      let walked = dirs.get(rel);
      if (walked === undefined) dirs.set(rel, (walked = walkInside(root, rel).catch(() => null)));
      const dir = await walked;
      const st = dir === null ? undefined : await fsp.lstat(path.join(dir, path.posix.basename(s.file.path)), { bigint: true }).catch(() => undefined);
      if (!isVersion(st, s.placed)) continue;
      files.push({ path: s.file.path, size: s.file.size, mode: Number(st.mode & 0o7777n), mtime_ns: st.mtimeNs.toString(), ino: Number(st.ino), ctime_ns: st.ctimeNs.toString() });
    }
    const newest = (await storeOf(run.store).newestGoodHeader())?.id ?? null;
    assertLockHeld(signal);
    await writeRestoredRecord(run.store, { run: run.name, snapshot: snapshot.id, newest, files });
  } catch (err) {
    if (err instanceof LockLostError) throw err;
    logger.warn(`could not record the files restored from ${snapshot.id} (${(err as Error).message}): the next snapshot copies them instead of linking them`, {
      event: 'restored-record-failed',
    });
  }
}
