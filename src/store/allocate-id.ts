/**
 * Choosing the id of a new snapshot or save: unique across everything the store holds or is
 * writing, and sorting after all of it.
 */
import { idTime, isValidId, newId } from './ids.js';
import { pendingSaveRecordId, saveIntentId, saveRecordsDir, snapshotsDir, stagingRoot, trashRoot } from './layout.js';
import { readdirOrEmpty } from '../util/fs.js';

/**
 * A fresh id for a snapshot or save made at `now`: never one the store uses (snapshots, saves,
 * staging, trash) and sorting after the newest of them. Callers hold the store's lock, so two
 * writers cannot pick the same id; `writeSnapshot` still creates its staging folder exclusively.
 */
export async function allocateId(store: string, now: number): Promise<string> {
  const used = new Set<string>();
  for (const dir of [snapshotsDir(store), stagingRoot(store), trashRoot(store)]) {
    for (const name of await readdirOrEmpty(dir)) if (isValidId(name)) used.add(name);
  }
  for (const name of await readdirOrEmpty(saveRecordsDir(store))) {
    // A pending record or an intent (a save interrupted before its commit) still holds its id until swept.
    const id = pendingSaveRecordId(name) ?? saveIntentId(name) ?? (name.endsWith('.json') ? name.slice(0, -'.json'.length) : '');
    if (isValidId(id)) used.add(id);
  }
  let newest: string | null = null;
  for (const id of used) if (idTime(id) !== null && (newest === null || id > newest)) newest = id;
  return newId(now, newest, (id) => used.has(id));
}
