/**
 * Markers of damaged snapshots and saves: `<store>/damaged/<id>.json`, written when verification
 * finds missing, changed or extra files and removed once the record verifies clean again. The
 * marker's existence is what makes a record damaged (its content says what was found), so
 * `snapshot.json` is never rewritten to flag one.
 */
import fsp from 'node:fs/promises';
import { ensureDirDurable, fsyncDir, writeFileAtomic } from './durable.js';
import { isValidId } from './ids.js';
import { DIR_MODE, damagedDir, damagedMarkerFile, saveRecordFile, snapshotMetaFile } from './layout.js';
import type { ChangedFile, VerifyResult } from './verify-snapshot.js';
import { existsNoFollow, readdirOrEmpty } from '../util/fs.js';

/** The content of `<store>/damaged/<id>.json`. */
export interface DamagedMarker {
  id: string;
  /** ISO 8601 UTC: when verification first found this record damaged (kept while it stays damaged). */
  found: string;
  /** ISO 8601 UTC: the latest verification that found it damaged. */
  checked: string;
  missing: string[];
  changed: ChangedFile[];
  extra: string[];
}

/** What `recordVerification` did with the marker. */
export type MarkerChange = 'marked' | 'still-damaged' | 'cleared' | 'unchanged' | 'record-gone';

/**
 * Brings the marker of `result.id` in line with a finished verification: a failed one writes the
 * marker atomically (keeping `found` from an earlier marker), a clean one removes any marker. When
 * the snapshot's `snapshot.json` (or the save's record) no longer exists, e.g. retention deleted it
 * while it was being verified, nothing is written and `record-gone` is returned. Safe beside a
 * running daemon: it writes nothing but the marker.
 */
export async function recordVerification(store: string, result: VerifyResult, now: number): Promise<MarkerChange> {
  if (!isValidId(result.id)) throw new Error(`refusing to mark ${JSON.stringify(result.id)}: not a valid id`);
  if (result.ok) return (await clearDamaged(store, result.id)) ? 'cleared' : 'unchanged';
  const record = result.kind === 'save' ? saveRecordFile(store, result.id) : snapshotMetaFile(store, result.id);
  if (!(await existsNoFollow(record))) return 'record-gone';
  const earlier = await readDamagedMarker(store, result.id);
  const checked = new Date(now).toISOString();
  const marker: DamagedMarker = {
    id: result.id,
    found: earlier?.found ?? checked,
    checked,
    missing: result.missing,
    changed: result.changed,
    extra: result.extra,
  };
  await ensureDirDurable(damagedDir(store), { mode: DIR_MODE });
  await writeFileAtomic(damagedMarkerFile(store, result.id), `${JSON.stringify(marker, null, 2)}\n`);
  return earlier ? 'still-damaged' : 'marked';
}

/** Removes the marker of `id`, if any (the folder is fsynced). Returns true when there was one. */
export async function clearDamaged(store: string, id: string): Promise<boolean> {
  if (!isValidId(id)) return false;
  try {
    await fsp.unlink(damagedMarkerFile(store, id));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  await fsyncDir(damagedDir(store));
  return true;
}

/** The ids that carry a marker (a store without `damaged/` has none). Temp files are ignored. */
export async function damagedIds(store: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const name of await readdirOrEmpty(damagedDir(store))) {
    if (name.startsWith('.') || !name.endsWith('.json')) continue;
    const id = name.slice(0, -'.json'.length);
    if (isValidId(id)) ids.add(id);
  }
  return ids;
}

/** True when `id` carries a damaged marker. */
export async function isDamaged(store: string, id: string): Promise<boolean> {
  if (!isValidId(id)) return false;
  return fsp.lstat(damagedMarkerFile(store, id)).then(
    () => true,
    () => false,
  );
}

/** The marker of `id`, or null when there is none or it cannot be read as one. */
export async function readDamagedMarker(store: string, id: string): Promise<DamagedMarker | null> {
  if (!isValidId(id)) return null;
  try {
    const m = JSON.parse(await fsp.readFile(damagedMarkerFile(store, id), 'utf8')) as Partial<DamagedMarker>;
    if (typeof m !== 'object' || m === null || m.id !== id || typeof m.found !== 'string') return null;
    return {
      id,
      found: m.found,
      checked: typeof m.checked === 'string' ? m.checked : m.found,
      missing: Array.isArray(m.missing) ? m.missing : [],
      changed: Array.isArray(m.changed) ? m.changed : [],
      extra: Array.isArray(m.extra) ? m.extra : [],
    };
  } catch {
    return null;
  }
}
