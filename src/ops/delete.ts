/**
 * `ckptd delete ID...`: deletes snapshots and saves a person names. Refuses, unless `force`, when
 * the deletion would leave the run without any good (undamaged) snapshot. Reports what it frees:
 * a stored file shared with a snapshot that stays (hard link) frees nothing.
 */
import { unitSharer, type StoredUnit } from '../store/footprint.js';
import { storeOf, type StoreRef } from '../store/local-store.js';
import type { RecordMeta } from '../store/types.js';
import { SafetyError } from '../util/errors.js';

export interface DeletePlan {
  /** The records, without their manifests' entries (each was read whole once, for what it frees). */
  records: Omit<RecordMeta, 'files'>[];
  /** Bytes the deletion frees on disk (files no snapshot that stays shares). */
  freedBytes: number;
}

/** True when `verify` marked the record damaged (reads set `damaged` from the marker). */
export function isDamaged(meta: Pick<RecordMeta, 'damaged'>): boolean {
  return meta.damaged === true;
}

/**
 * Resolves every id (all or nothing: an unknown id deletes nothing), checks the last-good-snapshot
 * rule, and measures what deleting them frees. Throws `SafetyError` when the rule refuses.
 */
export async function planDelete(ref: StoreRef, ids: string[], force: boolean): Promise<DeletePlan> {
  const store = storeOf(ref);
  const records: DeletePlan['records'] = [];
  const units: StoredUnit[][] = [];
  const shared = unitSharer();
  for (const id of ids) {
    const r = await store.resolve(id);
    if (records.some((x) => x.id === r.id)) continue;
    // One record whole at a time: its stored units are kept, its manifest (tens of MB for a
    // snapshot of 100,000 files) is not.
    units.push((await store.storedUnits(r)).map(shared));
    const { files: _files, ...header } = r;
    records.push(header);
  }
  const doomed = new Set(records.map((r) => r.id));
  const snapshots = await store.listSnapshotHeaders();
  const goodLeft = snapshots.filter((s) => !doomed.has(s.id) && !isDamaged(s));
  const goodDoomed = records.filter((r) => r.kind !== 'save' && !isDamaged(r));
  if (!force && goodLeft.length === 0 && goodDoomed.length > 0) {
    throw new SafetyError(
      `refusing to delete ${goodDoomed.map((r) => r.id).join(', ')}: no good snapshot of this run would remain; pass --force to delete anyway`,
    );
  }
  return { records, freedBytes: freedOf(units) };
}

/**
 * Deletes the planned records; returns the ids deleted and what saves left in place. `saveTo` is
 * the run's `save.to` (see `deleteSave`). The caller holds the lock.
 */
export async function executeDelete(ref: StoreRef, plan: DeletePlan, saveTo: string | null, signal?: AbortSignal): Promise<{ deleted: string[]; kept: { path: string; reason: string }[] }> {
  const store = storeOf(ref);
  const deleted: string[] = [];
  const kept: { path: string; reason: string }[] = [];
  for (const r of plan.records) {
    const res = await store.remove(r.id, { saveTo, ...(signal ? { signal } : {}) });
    kept.push(...res.kept);
    deleted.push(r.id);
  }
  return { deleted, kept };
}

/**
 * Bytes freed by deleting records whose stored units are `unitsPerRecord` (one list per record):
 * a unit is freed when every reference to it (`links`) lies in those lists.
 */
export function freedOf(unitsPerRecord: StoredUnit[][]): number {
  const inodes = new Map<string, { size: number; nlink: number; seen: number }>();
  for (const files of unitsPerRecord) {
    for (const f of files) {
      const cur = inodes.get(f.key) ?? { size: f.size, nlink: f.links, seen: 0 };
      cur.seen++;
      inodes.set(f.key, cur);
    }
  }
  let freed = 0;
  for (const v of inodes.values()) if (v.seen >= v.nlink) freed += v.size;
  return freed;
}

/** One stored unit of a record: its identity, size and reference count (for a local store: inode, size, link count). */
export type StoredInode = StoredUnit;

/** What record `r` holds in `store` (see `Store.storedUnits`). */
export async function storedInodes(ref: StoreRef, r: RecordMeta): Promise<StoredInode[]> {
  return storeOf(ref).storedUnits(r);
}

