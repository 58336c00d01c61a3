/**
 * The restore's last step: recording, in `<store>/restored.json` (`store/restored-record.ts`), the
 * files it wrote as they are in place, so that the next snapshot links them from the restored one
 * instead of copying them again (`restored-link-source.ts`). Kept apart from `restore.ts`, whose
 * ordered procedure is done by then: nothing here touches the run.
 */
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

/** A file the restore staged and renamed into place; `copy` null for a symlink. */
export interface WrittenCopy {
  file: TargetFile;
  /** The staged copy's inode and mtime once checked and its times set. */
  copy: { ino: bigint; mtimeNs: bigint } | null;
}

/**
 * Records the files the restore wrote, each as it is now in place, for the next snapshot to link
 * them from the restored one (`store/restored-record.ts`). A file is recorded only when it is still
 * the very copy staged and checked (same inode, size and mtime): its ctime from here on tells any
 * later change. Best effort: a record that cannot be written costs the next snapshot a copy of
 * the restored files, nothing more, so the restore does not fail for it.
 */
export async function recordRestored(run: RunConfig, snapshot: SnapshotMeta, root: string, written: WrittenCopy[], signal: AbortSignal | undefined, logger: Logger): Promise<void> {
  try {
    const files: RestoredFile[] = [];
    // One walk per folder, not per file: a restore may write 100,000 files into 100 folders.
    const dirs = new Map<string, Promise<string | null>>();
    for (const s of written) {
      if (s.copy === null) continue;
      const rel = path.posix.dirname(s.file.path);
      let walked = dirs.get(rel);
      if (walked === undefined) dirs.set(rel, (walked = walkInside(root, rel).catch(() => null)));
      const dir = await walked;
      const st = dir === null ? null : await fsp.lstat(path.join(dir, path.posix.basename(s.file.path)), { bigint: true }).catch(() => null);
      if (st === null || !st.isFile() || st.ino !== s.copy.ino || st.mtimeNs !== s.copy.mtimeNs || Number(st.size) !== s.file.size) continue;
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
