/**
 * Reading the records of one run of a remote store (SPEC section 8): the snapshot manifests under
 * `runs/<run>/snapshots/`, the save records under `runs/<run>/saves/` and the verification markers
 * under `runs/<run>/damaged/`. Listing is one paged LIST per folder, then a GET per record (at most
 * `READ_PARALLEL` at once). What does not parse, or names an unsafe path or a bad sha256, is not a
 * record: the listings leave it out and `findRemoteBroken` names it.
 */
import type { ReadSaveMeta, ReadSnapshotMeta, StoreProblem } from '../read-store.js';
import { isIncomplete } from '../read-store.js';
import { checkSaveRecord, checkSnapshotRecord } from '../record-shape.js';
import type { RecordMeta } from '../types.js';
import { mapPool } from '../../util/run-pools.js';
import type { S3Objects } from './s3-objects.js';
import {
  damagedMarkerKey,
  manifestKey,
  objectUrl,
  parseRecordKey,
  runDamagedPrefix,
  runPrefix,
  runSavesPrefix,
  runSnapshotsPrefix,
  saveRecordKey,
  type ObjectKey,
} from './s3-target.js';

/** Records read at once: one GET each. */
export const READ_PARALLEL = 16;

/** One run of a remote store: what every remote store module is handed. */
export interface RemoteRun {
  objects: S3Objects;
  run: string;
  /** `s3://bucket/prefix/runs/<run>/`. */
  location: string;
}

/** The run `run` of the store `objects` reaches (the run name is checked as usable in a key). */
export function remoteRun(objects: S3Objects, run: string): RemoteRun {
  return { objects, run, location: objectUrl(objects.target, runPrefix(objects.target, run)) };
}

/** The key of record `id` of kind `kind` ('snapshot' for every snapshot kind). */
export function recordKey(r: RemoteRun, kind: 'snapshot' | 'save', id: string): ObjectKey {
  return kind === 'save' ? saveRecordKey(r.objects.target, r.run, id) : manifestKey(r.objects.target, r.run, id);
}

/** The key of `record`'s manifest (a save's record for a save). */
export function keyOfRecord(r: RemoteRun, record: Pick<RecordMeta, 'id' | 'kind'>): ObjectKey {
  return recordKey(r, record.kind === 'save' ? 'save' : 'snapshot', record.id);
}

/** The key of the marker of `id`. */
export function markerKey(r: RemoteRun, id: string): ObjectKey {
  return damagedMarkerKey(r.objects.target, r.run, id);
}

type Read<T> = { meta: T } | { problem: string } | { gone: true };

/** The snapshot manifest `id`, checked, with `path` its URL; `gone` when there is no such object. */
export async function readRemoteSnapshot(r: RemoteRun, id: string): Promise<Read<ReadSnapshotMeta>> {
  const key = recordKey(r, 'snapshot', id);
  const json = await getJsonOrProblem(r, key);
  if (!('value' in json)) return json;
  const checked = checkSnapshotRecord(json.value, id, objectUrl(r.objects.target, key));
  if ('problem' in checked) return checked;
  if ((checked.meta.kind as string) === 'save') return { problem: `${objectUrl(r.objects.target, key)} describes a save, not a snapshot` };
  return { meta: { ...checked.meta, path: objectUrl(r.objects.target, key), damaged: false, incomplete: isIncomplete(checked.meta) } };
}

/** The save record `id`, checked, with `path` its URL; `gone` when there is no such object. */
export async function readRemoteSave(r: RemoteRun, id: string): Promise<Read<ReadSaveMeta>> {
  const key = recordKey(r, 'save', id);
  const json = await getJsonOrProblem(r, key);
  if (!('value' in json)) return json;
  const checked = checkSaveRecord(json.value, id);
  if ('problem' in checked) return { problem: `${objectUrl(r.objects.target, key)}: ${checked.problem}` };
  return { meta: { ...checked.meta, path: objectUrl(r.objects.target, key), damaged: false } };
}

/** Everything of the run: snapshots and saves newest first (damaged from the markers), and the problems. */
export interface RunRecords {
  snapshots: ReadSnapshotMeta[];
  saves: ReadSaveMeta[];
  problems: StoreProblem[];
}

/** Reads the snapshots (`kinds` includes 'snapshot') and saves (`'save'`) of the run. */
/**
 * The ids of the run's records (snapshots and saves) from one listing, no manifest read: what the
 * push planner needs to know is there. A key that is not a record's is left out.
 */
export async function runRecordIds(r: RemoteRun): Promise<Set<string>> {
  const t = r.objects.target;
  const ids = new Set<string>();
  for (const prefix of [runSnapshotsPrefix(t, r.run), runSavesPrefix(t, r.run)]) {
    for (const key of await r.objects.listKeys(prefix)) {
      const parsed = parseRecordKey(t, key);
      if (parsed !== null && parsed.run === r.run && parsed.kind !== 'damaged') ids.add(parsed.id);
    }
  }
  return ids;
}

export async function readRunRecords(r: RemoteRun, kinds: readonly ('snapshot' | 'save')[] = ['snapshot', 'save']): Promise<RunRecords> {
  const t = r.objects.target;
  const damaged = await damagedIds(r);
  const out: RunRecords = { snapshots: [], saves: [], problems: [] };
  for (const kind of kinds) {
    const keys = await r.objects.listKeys(kind === 'save' ? runSavesPrefix(t, r.run) : runSnapshotsPrefix(t, r.run));
    const ids: string[] = [];
    for (const key of keys) {
      const parsed = parseRecordKey(t, key);
      if (parsed === null || parsed.run !== r.run || parsed.kind !== kind) out.problems.push({ path: objectUrl(t, key), problem: `not a ${kind} record key` });
      else ids.push(parsed.id);
    }
    const read = await mapPool(ids, READ_PARALLEL, (id): Promise<Read<ReadSnapshotMeta | ReadSaveMeta>> => (kind === 'save' ? readRemoteSave(r, id) : readRemoteSnapshot(r, id)));
    read.forEach((res, i) => {
      const id = ids[i]!;
      if ('problem' in res) out.problems.push({ path: objectUrl(t, recordKey(r, kind, id)), problem: res.problem });
      else if ('meta' in res && kind === 'save') out.saves.push({ ...(res.meta as ReadSaveMeta), damaged: damaged.has(id) });
      else if ('meta' in res) out.snapshots.push({ ...(res.meta as ReadSnapshotMeta), damaged: damaged.has(id) });
      // gone: deleted between the listing and the read; not a record any more.
    });
  }
  out.snapshots.sort((a, b) => (a.id < b.id ? 1 : -1));
  out.saves.sort((a, b) => (a.id < b.id ? 1 : -1));
  return out;
}

/** The ids that carry a marker. */
export async function damagedIds(r: RemoteRun): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const key of await r.objects.listKeys(runDamagedPrefix(r.objects.target, r.run))) {
    const parsed = parseRecordKey(r.objects.target, key);
    if (parsed !== null && parsed.kind === 'damaged' && parsed.run === r.run) ids.add(parsed.id);
  }
  return ids;
}

/** Every id the run uses (snapshots and saves, valid or not): a new id must differ from and sort after them. */
export async function usedIds(r: RemoteRun): Promise<string[]> {
  const t = r.objects.target;
  const keys = [...(await r.objects.listKeys(runSnapshotsPrefix(t, r.run))), ...(await r.objects.listKeys(runSavesPrefix(t, r.run)))];
  return keys.flatMap((key) => {
    const parsed = parseRecordKey(t, key);
    return parsed === null ? [] : [parsed.id];
  });
}

async function getJsonOrProblem(r: RemoteRun, key: ObjectKey): Promise<{ value: unknown } | { problem: string } | { gone: true }> {
  let value: unknown;
  try {
    value = await r.objects.getJson(key);
  } catch (err) {
    // Not JSON is a verdict on the object; a failing object store is not, and throws.
    if ((err as Error).cause instanceof SyntaxError) return { problem: (err as Error).message };
    throw err;
  }
  return value === undefined ? { gone: true } : { value };
}
