/**
 * What a local store's snapshots knew of a few files, for the "emptied" rule
 * (`policy/emptied-file.ts`): whether a file empty now had bytes the last time ckptd saw it.
 *
 * Contract (`Store.lastKnown`): the answers of the newest snapshot (complete or not, damaged or
 * not: what it held is what ckptd saw then) and, when that one is incomplete or damaged, of the
 * newest good one too (the next capture's link source); for each asked path, `size` is the larger
 * size they held it at (null: neither held it) and `leftOut` whether either left it out (`skipped`:
 * it was being written). The newest good snapshot alone is not enough: a newer incomplete one may
 * be the only one that saw a file with bytes (a run whose every backup so far left a log out; a
 * checkpoint new since). Snapshots between the two are not read: a file the newest one did not
 * hold or leave out was not there then. At most two manifests are read, each streamed with only the
 * asked paths kept (a manifest of 100,000 files is 29 MB of text). A folder that is not a valid
 * snapshot is passed over, as every reader passes it over.
 */
import type { KnownBefore } from '../policy/emptied-file.js';
import { damagedIds } from './damaged-marker.js';
import { isValidId } from './ids.js';
import { snapshotMetaFile, snapshotsDir } from './layout.js';
import { newestGoodHeader, type ReadSnapshotMeta } from './read-store.js';
import { checkSnapshotRecord, entryProblem } from './record-shape.js';
import { readSnapshotJson } from './snapshot-json.js';
import type { ManifestEntry } from './types.js';
import { readdirOrEmpty } from '../util/fs.js';

/** What no snapshot knew of a path: not held, not left out. */
export const NOTHING_KNOWN: KnownBefore = { size: null, leftOut: false };

/** What the newest snapshot of local store `store` (and the newest good one) knew of each of `paths` (see the file comment). */
export async function lastKnownInStore(store: string, paths: readonly string[]): Promise<Map<string, KnownBefore>> {
  const out = new Map<string, KnownBefore>(paths.map((p) => [p, NOTHING_KNOWN]));
  if (paths.length === 0) return out;
  const ids = (await readdirOrEmpty(snapshotsDir(store))).filter(isValidId).sort((a, b) => (a < b ? 1 : -1));
  for (const id of ids) {
    const newest = await answersOf(store, id, out);
    if (newest === null) continue;
    if (newest.incomplete || (await damagedIds(store)).has(id)) {
      const good = await newestGoodHeader(store);
      if (good !== null) await answersOf(store, good.id, out);
    }
    break;
  }
  return out;
}

/** Merges into `out` what snapshot `id` knew of its paths; returns whether it is incomplete, or null when it is not a valid snapshot. */
async function answersOf(store: string, id: string, out: Map<string, KnownBefore>): Promise<{ incomplete: boolean } | null> {
  const sizes = new Map<string, number>();
  // Checked as every reader checks them, and none kept but the sizes asked for.
  const check = (e: unknown): string | null => {
    const problem = entryProblem(e);
    if (problem === null && out.has((e as ManifestEntry).path)) sizes.set((e as ManifestEntry).path, (e as ManifestEntry).size);
    return problem;
  };
  const read = await readSnapshotJson(snapshotMetaFile(store, id), { keep: false, check });
  if ('problem' in read) return null;
  const checked = checkSnapshotRecord(read.value, id, 'snapshot.json', read.filesProblem);
  if ('problem' in checked) return null;
  const leftOut = new Set(checked.meta.skipped.map((s) => s.path));
  for (const [p, known] of out) out.set(p, merged(known, sizes.get(p) ?? null, leftOut.has(p)));
  return { incomplete: leftOut.size > 0 };
}

/** `known` with one more snapshot's answer: the larger size held, left out by either. */
export function merged(known: KnownBefore, size: number | null, leftOut: boolean): KnownBefore {
  return { size: size === null ? known.size : Math.max(size, known.size ?? 0), leftOut: known.leftOut || leftOut };
}

/** `lastKnownInStore` over snapshots already read whole, newest first (a remote store's records). */
export function lastKnownAmong(snapshots: readonly ReadSnapshotMeta[], paths: readonly string[]): Map<string, KnownBefore> {
  const out = new Map<string, KnownBefore>(paths.map((p) => [p, NOTHING_KNOWN]));
  const newest = snapshots[0];
  if (paths.length === 0 || newest === undefined) return out;
  const good = newest.damaged || newest.incomplete ? snapshots.find((s) => !s.damaged && !s.incomplete) : undefined;
  for (const s of good === undefined ? [newest] : [newest, good]) {
    const sizes = new Map<string, number>();
    for (const f of s.files) if (out.has(f.path)) sizes.set(f.path, f.size);
    const leftOut = new Set(s.skipped.map((k) => k.path));
    for (const [p, known] of out) out.set(p, merged(known, sizes.get(p) ?? null, leftOut.has(p)));
  }
  return out;
}
