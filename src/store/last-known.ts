/**
 * What a local store's newest snapshots knew of a few files, for the "emptied" rule
 * (`policy/emptied-file.ts`): whether a file empty now had bytes the last time ckptd saw it.
 *
 * Contract (`Store.lastKnown`): the snapshots are read newest first down to the newest good one
 * (neither damaged nor incomplete: the next capture's link source) inclusive, every one of them
 * when there is none. For each asked path, `size` is the largest size any of them held it at (null:
 * none held it) and `leftOut` whether any of them left it out (`skipped`: it was being written).
 * The newest good snapshot alone is not enough: a newer incomplete one may be the only one that
 * saw a file with bytes (a run whose every backup so far left a log out; a checkpoint new since).
 * Each manifest is streamed with only the asked paths kept (a manifest of 100,000 files is 29 MB
 * of text). A folder that is not a valid snapshot is passed over, as every reader passes it over.
 */
import type { KnownBefore } from '../policy/emptied-file.js';
import { damagedIds } from './damaged-marker.js';
import { isValidId } from './ids.js';
import { snapshotMetaFile, snapshotsDir } from './layout.js';
import { checkSnapshotRecord, entryProblem } from './record-shape.js';
import { readSnapshotJson } from './snapshot-json.js';
import type { ReadSnapshotMeta } from './read-store.js';
import type { ManifestEntry } from './types.js';
import { readdirOrEmpty } from '../util/fs.js';

/** What no snapshot knew of a path: not held, not left out. */
export const NOTHING_KNOWN: KnownBefore = { size: null, leftOut: false };

/** What the snapshots of local store `store`, newest down to the newest good one, knew of each of `paths` (see the file comment). */
export async function lastKnownInStore(store: string, paths: readonly string[]): Promise<Map<string, KnownBefore>> {
  const out = new Map<string, KnownBefore>(paths.map((p) => [p, NOTHING_KNOWN]));
  if (paths.length === 0) return out;
  const damaged = await damagedIds(store);
  const ids = (await readdirOrEmpty(snapshotsDir(store))).filter(isValidId).sort((a, b) => (a < b ? 1 : -1));
  for (const id of ids) {
    const sizes = new Map<string, number>();
    // Checked as every reader checks them, and none kept but the sizes asked for.
    const check = (e: unknown): string | null => {
      const problem = entryProblem(e);
      if (problem === null && out.has((e as ManifestEntry).path)) sizes.set((e as ManifestEntry).path, (e as ManifestEntry).size);
      return problem;
    };
    const read = await readSnapshotJson(snapshotMetaFile(store, id), { keep: false, check });
    if ('problem' in read) continue;
    const checked = checkSnapshotRecord(read.value, id, 'snapshot.json', read.filesProblem);
    if ('problem' in checked) continue;
    const leftOut = new Set(checked.meta.skipped.map((s) => s.path));
    for (const [p, known] of out) out.set(p, merged(known, sizes.get(p) ?? null, leftOut.has(p)));
    if (!damaged.has(id) && leftOut.size === 0) break;
  }
  return out;
}

/** `known` with one more snapshot's answer: the larger size held, left out by either. */
export function merged(known: KnownBefore, size: number | null, leftOut: boolean): KnownBefore {
  return { size: size === null ? known.size : Math.max(size, known.size ?? 0), leftOut: known.leftOut || leftOut };
}

/** `lastKnownInStore` over snapshots already read whole, newest first (a remote store's records). */
export function lastKnownAmong(snapshots: readonly ReadSnapshotMeta[], paths: readonly string[]): Map<string, KnownBefore> {
  const out = new Map<string, KnownBefore>(paths.map((p) => [p, NOTHING_KNOWN]));
  if (paths.length === 0) return out;
  for (const s of snapshots) {
    const sizes = new Map<string, number>();
    for (const f of s.files) if (out.has(f.path)) sizes.set(f.path, f.size);
    const leftOut = new Set(s.skipped.map((k) => k.path));
    for (const [p, known] of out) out.set(p, merged(known, sizes.get(p) ?? null, leftOut.has(p)));
    if (!s.damaged && !s.incomplete) break;
  }
  return out;
}
