/**
 * What the first snapshot after a restore links unchanged files from.
 *
 * Normally the newest good snapshot. Right after a restore that is the pre-restore snapshot, which
 * holds the run as it was before: every file the restore wrote is a fresh copy no manifest knows
 * (new inode, new ctime), so it would be copied again even if the trainer never touched it. The
 * restore records each file it wrote as it was once in place (`store/restored-record.ts`); while
 * the newest good snapshot is still the one the record names, the capture links from the restored
 * snapshot instead, its entries carrying the identities the files have in the run:
 * - a file the restore wrote: the identity it had once in place (its bytes were checked against
 *   the snapshot's sha256 while staged);
 * - a file the restore left in place because its bytes already matched: the identity the
 *   pre-restore snapshot recorded, when that snapshot stored the same sha256.
 * Every other entry is the restored snapshot's own. Whether a file is linked is still decided by
 * `unchangedSince` against these entries, and proven by the capture's consistency pass: a file
 * changed since the restore has another ctime and is copied.
 */
import type { RunConfig } from '../config/types.js';
import type { ReadSnapshotMeta } from '../store/read-store.js';
import { readRestoredRecord } from '../store/restored-record.js';
import type { Store } from '../store/store.js';
import type { ManifestEntry, SnapshotMeta } from '../store/types.js';

/** What `linkSourceAfterRestore` found. */
export interface AfterRestore {
  /** The snapshot to link from instead of the newest good one; null: link from that one. */
  source: SnapshotMeta | null;
  /** A restore record of this run that no longer describes it (a newer good snapshot exists): to be removed. */
  stale: boolean;
}

/**
 * The restored snapshot with its entries as the run holds them (see the file comment), when
 * `newest` is the newest good snapshot a restore of `run` left and the restored snapshot is still
 * in the store, not damaged; else `source` null (link from `newest`).
 */
export async function linkSourceAfterRestore(run: RunConfig, store: Store, newest: ReadSnapshotMeta | null): Promise<AfterRestore> {
  const none: AfterRestore = { source: null, stale: false };
  const record = await readRestoredRecord(run.store);
  if (record === null || record.run !== run.name) return none;
  if (newest === null || record.newest !== newest.id) return { source: null, stale: true };
  const found = await store.resolve(record.snapshot).catch(() => null);
  if (found === null || found.id !== record.snapshot || found.kind === 'save' || found.damaged) return { source: null, stale: true };
  const restored = found as ReadSnapshotMeta;
  const written = new Map(record.files.map((f) => [f.path, f]));
  const before = new Map(newest.files.map((f) => [f.path, f]));
  const files = restored.files.map((x): ManifestEntry => {
    if (x.type !== undefined) return x;
    const w = written.get(x.path);
    if (w !== undefined) return w.size === x.size && w.mode === x.mode ? { ...x, mtime_ns: w.mtime_ns, ino: w.ino, ctime_ns: w.ctime_ns } : x;
    const p = before.get(x.path);
    if (p !== undefined && p.type === undefined && p.sha256 === x.sha256 && p.size === x.size && p.mode === x.mode && p.ino !== undefined && p.ctime_ns !== undefined) {
      return { ...x, mtime_ns: p.mtime_ns, ino: p.ino, ctime_ns: p.ctime_ns };
    }
    return x;
  });
  return { source: { ...restored, files }, stale: false };
}
