/**
 * `ckptd delete ID...`: deletes snapshots and saves a person names. Refuses, unless `force`, when
 * the deletion would leave the run without any good (undamaged) snapshot. Reports what it frees:
 * a stored file shared with a snapshot that stays (hard link) frees nothing.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { deleteSave, deleteSnapshot } from '../store/delete-snapshot.js';
import { listSnapshots, resolveId } from '../store/read-store.js';
import type { RecordMeta } from '../store/types.js';
import { SafetyError } from '../util/errors.js';

export interface DeletePlan {
  records: RecordMeta[];
  /** Bytes the deletion frees on disk (files no snapshot that stays shares). */
  freedBytes: number;
}

/** True when `verify` marked the record damaged (reads set `damaged` from the marker). */
export function isDamaged(meta: RecordMeta): boolean {
  return meta.damaged === true;
}

/**
 * Resolves every id (all or nothing: an unknown id deletes nothing), checks the last-good-snapshot
 * rule, and measures what deleting them frees. Throws `SafetyError` when the rule refuses.
 */
export async function planDelete(store: string, ids: string[], force: boolean): Promise<DeletePlan> {
  const records: RecordMeta[] = [];
  for (const id of ids) {
    const r = await resolveId(store, id);
    if (!records.some((x) => x.id === r.id)) records.push(r);
  }
  const doomed = new Set(records.map((r) => r.id));
  const snapshots = await listSnapshots(store);
  const goodLeft = snapshots.filter((s) => !doomed.has(s.id) && !isDamaged(s));
  const goodDoomed = records.filter((r) => r.kind !== 'save' && !isDamaged(r));
  if (!force && goodLeft.length === 0 && goodDoomed.length > 0) {
    throw new SafetyError(
      `refusing to delete ${goodDoomed.map((r) => r.id).join(', ')}: no good snapshot of this run would remain; pass --force to delete anyway`,
    );
  }
  return { records, freedBytes: await freedBy(records) };
}

/**
 * Deletes the planned records; returns the ids deleted and what saves left in place. `saveTo` is
 * the run's `save.to` (see `deleteSave`). The caller holds the lock.
 */
export async function executeDelete(store: string, plan: DeletePlan, saveTo: string | null): Promise<{ deleted: string[]; kept: { path: string; reason: string }[] }> {
  const deleted: string[] = [];
  const kept: { path: string; reason: string }[] = [];
  for (const r of plan.records) {
    if (r.kind === 'save') {
      const res = await deleteSave(store, r.id, { saveTo });
      kept.push(...res.kept);
    } else {
      await deleteSnapshot(store, r.id);
    }
    deleted.push(r.id);
  }
  return { deleted, kept };
}

/**
 * Bytes freed by deleting `records` together: a stored file (and a snapshot's `snapshot.json`) is
 * freed when every hard link to its inode lies in the deleted set (link count = links seen among them).
 */
export async function freedBy(records: RecordMeta[]): Promise<number> {
  let freed = 0;
  for (const v of (await inodesOf(records)).values()) if (v.seen >= v.nlink) freed += v.size;
  return freed;
}

/** One stored file of a record as the disk sees it: its inode (`dev:ino`), size and link count. */
export interface StoredInode {
  key: string;
  size: number;
  links: number;
}

/**
 * The files a record holds on disk: a snapshot's files and its `snapshot.json`; a save's exported
 * file, or the files of its exported folder. The one place that knows what deleting a record frees.
 */
export async function storedInodes(r: RecordMeta): Promise<StoredInode[]> {
  const single = r.kind === 'save' && (await fsp.lstat(r.path).catch(() => null))?.isFile() === true;
  const files = single ? [r.path] : r.files.map((f) => path.join(r.path, f.path));
  if (r.kind !== 'save') files.push(path.join(path.dirname(r.path), 'snapshot.json'));
  const out: StoredInode[] = [];
  for (const file of files) {
    const st = await fsp.lstat(file, { bigint: true }).catch(() => null);
    if (st?.isFile()) out.push({ key: `${st.dev}:${st.ino}`, size: Number(st.size), links: Number(st.nlink) });
  }
  return out;
}

/** Every inode of `records`, with how many of their files link to it. Records are read in parallel. */
async function inodesOf(records: RecordMeta[]): Promise<Map<string, { size: number; nlink: number; seen: number }>> {
  const inodes = new Map<string, { size: number; nlink: number; seen: number }>();
  for (const files of await Promise.all(records.map(storedInodes))) {
    for (const f of files) {
      const cur = inodes.get(f.key) ?? { size: f.size, nlink: f.links, seen: 0 };
      cur.seen++;
      inodes.set(f.key, cur);
    }
  }
  return inodes;
}
