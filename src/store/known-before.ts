/**
 * What the newest good snapshot (the one the next capture judges against, see `newestGoodSnapshot`)
 * knew of a few files: the size it held each at, and whether it left it out. For the daemon's
 * settle check, which asks about the few files the "emptied" rule (`policy/emptied-file.ts`) may
 * hold back, and holds no manifest of its own.
 *
 * Contract: `of(store, paths)` answers for the newest good snapshot of `store` now (no snapshot:
 * nothing held, nothing left out). That one is complete, so `leftOut` is false here; the capture
 * judges against the same snapshot, except right after a restore (the restored one). Its manifest is read entry by entry, only the asked paths kept
 * (a manifest of 100,000 files is 29 MB of text, its entries tens of MB alive); the answers are
 * kept while it stays the newest, so a path is read for once per snapshot, not at every look. A
 * manifest that cannot be read answers "held with bytes" for every path, not kept: waiting
 * `EMPTIED_QUIET_MS` for nothing costs a moment, a backup taken without the file costs a backup.
 */
import type { KnownBefore } from '../policy/emptied-file.js';
import { snapshotMetaFile } from './layout.js';
import { newestGoodHeader } from './read-store.js';
import { entryProblem } from './record-shape.js';
import { readSnapshotJson } from './snapshot-json.js';
import type { ManifestEntry } from './types.js';

const NOTHING: KnownBefore = { size: null, leftOut: false };
const UNREADABLE: KnownBefore = { size: Number.MAX_SAFE_INTEGER, leftOut: false };

export class KnownBeforeReader {
  /** The store and newest good snapshot the kept answers are for. */
  private keptFor = '';
  private readonly kept = new Map<string, KnownBefore>();

  /** What the newest good snapshot of `store` knew of each of `paths` (relative, as in its manifest). */
  async of(store: string, paths: readonly string[]): Promise<Map<string, KnownBefore>> {
    const out = new Map<string, KnownBefore>();
    if (paths.length === 0) return out;
    const newest = await newestGoodHeader(store);
    if (newest === null) return new Map(paths.map((p) => [p, NOTHING]));
    const key = `${store}\0${newest.id}`;
    if (key !== this.keptFor) {
      this.kept.clear();
      this.keptFor = key;
    }
    const ask = new Set(paths.filter((p) => !this.kept.has(p)));
    if (ask.size > 0) {
      const sizes = new Map<string, number>();
      // Checked as every reader checks them, and none kept but the sizes asked for.
      const check = (e: unknown): string | null => {
        const problem = entryProblem(e);
        if (problem === null && ask.has((e as ManifestEntry).path)) sizes.set((e as ManifestEntry).path, (e as ManifestEntry).size);
        return problem;
      };
      const read = await readSnapshotJson(snapshotMetaFile(store, newest.id), { keep: false, check });
      if ('problem' in read || read.filesProblem !== null) return new Map(paths.map((p) => [p, UNREADABLE]));
      const leftOut = new Set(newest.skipped.map((s) => s.path));
      for (const p of ask) this.kept.set(p, { size: sizes.get(p) ?? null, leftOut: leftOut.has(p) });
    }
    for (const p of paths) out.set(p, this.kept.get(p)!);
    return out;
  }
}
