/**
 * Whether a run's folder holds a state a restore put in place, which is stored already and so is
 * not a new change (`ckptd restore` without a daemon, or `ckptd run --resume`).
 *
 * Contract: true when the newest good snapshot is a pre-restore one and the run holds exactly the
 * files of the snapshot that restore put in place (to the microsecond of their mtimes, all a
 * restore can set: a restored state's digest differs from its snapshot's). Reads at most two
 * records; a record that cannot be read, or is damaged, gives false. Writes nothing.
 */
import { runHoldsFiles } from '../ops/diff.js';
import { restoredIdOf } from '../ops/restore.js';
import { newestGoodSnapshot, readSnapshot } from '../store/read-store.js';
import type { ScanEntry } from '../store/types.js';

export async function isRestoredState(store: string, entries: ScanEntry[]): Promise<boolean> {
  const newest = await newestGoodSnapshot(store);
  const id = newest?.kind === 'pre-restore' ? restoredIdOf(newest.trigger) : null;
  const restored = id === null ? null : await readSnapshot(store, id).catch(() => null);
  return restored !== null && !restored.damaged && runHoldsFiles(restored.files, entries);
}
