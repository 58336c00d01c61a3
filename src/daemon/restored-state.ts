/**
 * Whether a run's folder holds a state a restore put in place, which is stored already and so is
 * not a new change (`ckptd restore` without a daemon, or `ckptd run --resume`).
 *
 * Contract: true when the newest good snapshot is a pre-restore one and the run holds exactly the
 * files of the snapshot that restore put in place (to the microsecond of their mtimes, all a
 * restore can set: a restored state's digest differs from its snapshot's). Reads the newest good
 * snapshot and looks the restored one up by its exact id (`Store.resolve`, which reads the listing);
 * a record that cannot be read, is not that snapshot, or is damaged, gives false. Writes nothing.
 */
import { runHoldsFiles } from '../ops/diff.js';
import { restoredIdOf } from '../ops/restore.js';
import { storeOf, type StoreRef } from '../store/local-store.js';
import type { ScanEntry } from '../store/types.js';

export async function isRestoredState(ref: StoreRef, entries: ScanEntry[]): Promise<boolean> {
  const store = storeOf(ref);
  const newest = await store.newestGoodHeader();
  const id = newest?.kind === 'pre-restore' ? restoredIdOf(newest.trigger) : null;
  // `resolve` also takes a prefix and finds saves: only the snapshot of exactly that id counts.
  const found = id === null ? null : await store.resolve(id).catch(() => null);
  const restored = found !== null && found.id === id && found.kind !== 'save' ? found : null;
  return restored !== null && !restored.damaged && runHoldsFiles(restored.files, entries);
}
