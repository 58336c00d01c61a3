/**
 * What the store's newest snapshots knew of a few files (`lastKnownInStore`: the newest one and the
 * newest good one, the snapshots the next capture judges an empty file against), kept between
 * the daemon's looks. For the daemon's settle check, which asks about the few files the "emptied"
 * rule (`policy/emptied-file.ts`) may hold back, and holds no manifest of its own.
 *
 * Contract: `of(store, paths)` answers as `lastKnownInStore(store, paths)` would now. The answers
 * are kept while the store's snapshots and damaged marks are the same ones (two folder listings),
 * so a path is read for once per new snapshot, not at every look. A question that fails answers
 * "held with bytes" for every path, not kept: waiting `EMPTIED_QUIET_MS` for nothing costs a
 * moment, a backup taken without the file costs a backup.
 */
import type { KnownBefore } from '../policy/emptied-file.js';
import { damagedDir, snapshotsDir } from './layout.js';
import { lastKnownInStore } from './last-known.js';
import { readdirOrEmpty } from '../util/fs.js';

const UNREADABLE: KnownBefore = { size: Number.MAX_SAFE_INTEGER, leftOut: false };

export class KnownBeforeReader {
  /** The store and its snapshots and marks the kept answers are for. */
  private keptFor = '';
  private readonly kept = new Map<string, KnownBefore>();

  /** What the newest snapshots of `store` knew of each of `paths` (relative, as in their manifests). */
  async of(store: string, paths: readonly string[]): Promise<Map<string, KnownBefore>> {
    if (paths.length === 0) return new Map();
    try {
      const key = [store, ...(await readdirOrEmpty(snapshotsDir(store))).sort(), '\0', ...(await readdirOrEmpty(damagedDir(store))).sort()].join('\0');
      if (key !== this.keptFor) {
        this.kept.clear();
        this.keptFor = key;
      }
      const ask = paths.filter((p) => !this.kept.has(p));
      if (ask.length > 0) for (const [p, known] of await lastKnownInStore(store, ask)) this.kept.set(p, known);
    } catch {
      this.keptFor = '';
      this.kept.clear();
      return new Map(paths.map((p) => [p, UNREADABLE]));
    }
    return new Map(paths.map((p) => [p, this.kept.get(p)!]));
  }
}
