/**
 * Reading what a store holds: snapshots (a folder of `snapshots/` with a valid `snapshot.json`),
 * saves (`save-records/<id>.json`), and resolving an id or unique prefix to one of them.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { CheckedHeaders, identityOf } from './checked-headers.js';
import { damagedIds, isDamaged } from './damaged-marker.js';
import { isValidId, isValidIdPrefix } from './ids.js';
import { checkSaveRecord, checkSnapshotRecord, COMMITTED_CTIME_KEY, entryProblem, invalidIdMessage, resolveAmong } from './record-shape.js';
import { saveRecordFile, saveRecordsDir, snapshotFilesDir, snapshotMetaFile, snapshotsDir } from './layout.js';
import { sharingWith } from './shared-strings.js';
import { readSnapshotJson } from './snapshot-json.js';
import type { SaveMeta, ScanEntry, SnapshotMeta } from './types.js';
import { existsNoFollow, readdirOrEmpty } from '../util/fs.js';
import { mapPool } from '../util/run-pools.js';

/** Something in the store that looks like a snapshot or save record but is not a valid one. */
export interface StoreProblem {
  /** The folder or file. */
  path: string;
  problem: string;
}

/**
 * A snapshot as the readers return it: `damaged` is always set, from `<store>/damaged/<id>.json`,
 * and `incomplete` from `skipped` (see `isIncomplete`).
 */
export type ReadSnapshotMeta = SnapshotMeta & { damaged: boolean; incomplete: boolean };

/** True when the snapshot left files out (its `skipped` list is not empty): not a complete copy. */
export function isIncomplete(s: Pick<SnapshotMeta, 'skipped'>): boolean {
  return Array.isArray(s.skipped) && s.skipped.length > 0;
}

/**
 * A snapshot without its manifest's entries (`listSnapshotHeaders`): for a reader that needs only
 * what the snapshot is (kind, labels, when, damaged, incomplete). Its entries were read and checked
 * like `listSnapshots` checks them, then dropped.
 */
export type ReadSnapshotHeader = Omit<ReadSnapshotMeta, 'files'>;

/** A save record as the readers return it: `damaged` is always set, from its marker. */
export type ReadSaveMeta = SaveMeta & { damaged: boolean };

/**
 * Every snapshot of the store, newest first (by id, which sorts by creation time), with `path`
 * recomputed from where the store is now and `damaged` read from the markers. Folders without a
 * readable, valid `snapshot.json` are not snapshots and are left out (see `findBroken`). A store
 * without `snapshots/` has none.
 */
export async function listSnapshots(store: string): Promise<ReadSnapshotMeta[]> {
  return (await scanSnapshots(store)).snapshots;
}

/**
 * `listSnapshots` without the manifests' entries: the same snapshots (each manifest read and
 * checked in full, an entry at a time), held without their `files`. A store of snapshots of
 * 100,000 files each takes tens of MB per snapshot listed with them. A manifest this process read
 * and checked before is not read again while its file is the same (`checked-headers.ts`).
 */
export async function listSnapshotHeaders(store: string): Promise<ReadSnapshotHeader[]> {
  const damaged = await damagedIds(store);
  const ids = (await readdirOrEmpty(snapshotsDir(store))).filter(isValidId);
  headers.keepOnlyUnder(snapshotsDir(store), new Set(ids.map((id) => snapshotMetaFile(store, id))));
  // Each one's entries are dropped as they are read, so several may be read at once.
  const metas = await mapPool(ids, READ_PARALLEL, (id) => readSnapshotMeta(store, id, false));
  const out: ReadSnapshotHeader[] = [];
  ids.forEach((id, i) => {
    const r = metas[i]!;
    if ('problem' in r) return;
    const { files: _dropped, ...header } = r.meta;
    out.push({ ...header, damaged: damaged.has(id) });
  });
  return out.sort((a, b) => (a.id < b.id ? 1 : -1));
}

/**
 * The newest good snapshot, or null: not marked damaged and not incomplete. It is the one whose
 * unchanged files the next snapshot hard-links, the backup retention never deletes, and the state
 * the daemon counts as already stored. A damaged snapshot is never a link source (a link would
 * share its bad bytes); an incomplete one lacks files, so its state is not stored whole.
 * With `like` (a scan of the run, in path order), its entries hold that scan's strings where equal
 * (path, times), never read twice beside it: for a capture, which holds both.
 */
export async function newestGoodSnapshot(store: string, like?: readonly ScanEntry[]): Promise<ReadSnapshotMeta | null> {
  return newestGood(store, true, like);
}

/** `newestGoodSnapshot` without its files (see `ReadSnapshotHeader`): for a reader that needs its digest or kind. */
export async function newestGoodHeader(store: string): Promise<ReadSnapshotHeader | null> {
  const found = await newestGood(store, false);
  if (found === null) return null;
  const { files: _dropped, ...header } = found;
  return header;
}

async function newestGood(store: string, keepFiles: boolean, like?: readonly ScanEntry[]): Promise<ReadSnapshotMeta | null> {
  // Newest first, stopping at the first good one: each snapshot.json holds a whole manifest (tens
  // of MB for a run of 100,000 files), and this runs before every snapshot.
  const damaged = await damagedIds(store);
  const ids = (await readdirOrEmpty(snapshotsDir(store))).filter(isValidId).sort((a, b) => (a < b ? 1 : -1));
  for (const id of ids) {
    if (damaged.has(id)) continue;
    const r = await readSnapshotMeta(store, id, keepFiles, like);
    if (!('problem' in r) && !r.meta.incomplete) return { ...r.meta, damaged: false, incomplete: false };
  }
  return null;
}

/**
 * What `listSnapshots` leaves out: folders of `snapshots/` that are not valid snapshots and save
 * records that cannot be read, each with the reason. ckptd never deletes these by itself.
 */
export async function findBroken(store: string): Promise<StoreProblem[]> {
  // Each manifest read and checked, its entries dropped as they are read: only the problems are kept.
  return [...(await scanSnapshots(store, false)).problems, ...(await scanSaves(store)).problems];
}

/**
 * The snapshot `id` (recomputed `path`, `damaged` from its marker). Throws when `id` is invalid or
 * no such snapshot exists.
 */
export async function readSnapshot(store: string, id: string): Promise<ReadSnapshotMeta> {
  if (!isValidId(id)) throw new Error(invalidIdMessage(id));
  const r = await readSnapshotMeta(store, id);
  if ('problem' in r) throw new Error(`snapshot ${id}: ${r.problem}`);
  return { ...r.meta, damaged: await isDamaged(store, id) };
}

/**
 * `readSnapshot` without the manifest's entries (read and checked like `readSnapshot` checks them,
 * then dropped): for a reader that needs only what the snapshot is (`deleteSnapshot`'s guard).
 */
export async function readSnapshotHeader(store: string, id: string): Promise<ReadSnapshotHeader> {
  if (!isValidId(id)) throw new Error(invalidIdMessage(id));
  const r = await readSnapshotMeta(store, id, false);
  if ('problem' in r) throw new Error(`snapshot ${id}: ${r.problem}`);
  const { files: _dropped, ...header } = r.meta;
  return { ...header, damaged: await isDamaged(store, id) };
}

/**
 * Every save record of the store, newest first, `damaged` from the markers. Unreadable records are
 * left out (see `findBroken`).
 */
export async function listSaves(store: string): Promise<ReadSaveMeta[]> {
  return (await scanSaves(store)).saves;
}

/** The save `id` (`damaged` from its marker). Throws when `id` is invalid or no such save record exists. */
export async function readSave(store: string, id: string): Promise<ReadSaveMeta> {
  if (!isValidId(id)) throw new Error(invalidIdMessage(id));
  const r = await readSaveMeta(store, id);
  if ('problem' in r) throw new Error(`save ${id}: ${r.problem}`);
  return { ...r.meta, damaged: await isDamaged(store, id) };
}

/**
 * The snapshot or save whose id is `idOrPrefix`, or the only one whose id starts with it (with
 * `damaged` set). Rejects anything that is not `[0-9a-z-]` (`../x`, `/`, NUL, empty) before
 * touching the disk. Throws "no snapshot or save matches ..." when none does, and lists the
 * candidates when several do.
 */
export async function resolveId(store: string, idOrPrefix: string): Promise<ReadSnapshotMeta | ReadSaveMeta> {
  return (await resolveRecord(store, idOrPrefix, true)) as ReadSnapshotMeta | ReadSaveMeta;
}

/** `resolveId`'s record without a snapshot's manifest entries: which record it is, and its labels. */
export async function resolveIdHeader(store: string, idOrPrefix: string): Promise<ReadSnapshotHeader | ReadSaveMeta> {
  return resolveRecord(store, idOrPrefix, false);
}

async function resolveRecord(store: string, idOrPrefix: string, keepFiles: boolean): Promise<ReadSnapshotHeader | ReadSaveMeta> {
  if (!isValidIdPrefix(idOrPrefix)) throw new Error(invalidIdMessage(idOrPrefix));
  // The exact id of a valid snapshot or save is what the listing would find first: read only that
  // one (a listing of full records holds every manifest, tens of MB each for runs of 100,000 files).
  if (isValidId(idOrPrefix)) {
    const r = await readSnapshotMeta(store, idOrPrefix, keepFiles);
    if (!('problem' in r)) return { ...r.meta, damaged: await isDamaged(store, idOrPrefix) };
    const s = await readSaveMeta(store, idOrPrefix);
    if (!('problem' in s)) return { ...s.meta, damaged: await isDamaged(store, idOrPrefix) };
  }
  // A prefix: matched among the headers, then only the snapshot it names read in full.
  const found = resolveAmong([...(await listSnapshotHeaders(store)), ...(await listSaves(store))], idOrPrefix, store);
  return found.kind === 'save' || !keepFiles ? found : readSnapshot(store, found.id);
}

async function scanSnapshots(store: string, keepFiles = true): Promise<{ snapshots: ReadSnapshotMeta[]; problems: StoreProblem[] }> {
  const snapshots: ReadSnapshotMeta[] = [];
  const problems: StoreProblem[] = [];
  const damaged = await damagedIds(store);
  const names = await readdirOrEmpty(snapshotsDir(store));
  const metas = await markGone(
    names.map((name) => path.join(snapshotsDir(store), name)),
    await mapPool(names, READ_PARALLEL, (name) => (isValidId(name) ? readSnapshotMeta(store, name, keepFiles) : Promise.resolve(null))),
  );
  names.forEach((name, i) => {
    const dir = path.join(snapshotsDir(store), name);
    const r = metas[i]!;
    if (r === 'gone') return;
    if (r === null) problems.push({ path: dir, problem: 'not a snapshot id' });
    else if ('problem' in r) problems.push({ path: dir, problem: r.problem });
    else snapshots.push({ ...r.meta, damaged: damaged.has(name) });
  });
  snapshots.sort((a, b) => (a.id < b.id ? 1 : -1));
  return { snapshots, problems };
}

async function scanSaves(store: string): Promise<{ saves: ReadSaveMeta[]; problems: StoreProblem[] }> {
  const saves: ReadSaveMeta[] = [];
  const problems: StoreProblem[] = [];
  const damaged = await damagedIds(store);
  // Temp files of atomic writes in progress (or left by a crash) are not records.
  const names = (await readdirOrEmpty(saveRecordsDir(store))).filter((name) => !name.startsWith('.') && name.endsWith('.json'));
  const ids = names.map((name) => name.slice(0, -'.json'.length));
  const metas = await markGone(
    ids.map((id) => saveRecordFile(store, id)),
    await mapPool(ids, READ_PARALLEL, (id) => (isValidId(id) ? readSaveMeta(store, id) : Promise.resolve(null))),
  );
  ids.forEach((id, i) => {
    const r = metas[i]!;
    if (r === 'gone') return;
    if (r === null) problems.push({ path: path.join(saveRecordsDir(store), names[i]!), problem: 'not a save id' });
    else if ('problem' in r) problems.push({ path: saveRecordFile(store, id), problem: r.problem });
    else saves.push({ ...r.meta, damaged: damaged.has(id) });
  });
  saves.sort((a, b) => (a.id < b.id ? 1 : -1));
  return { saves, problems };
}

/**
 * `reads` with each problem whose entry (`paths[i]`) no longer exists turned into `'gone'`: deleted
 * (by retention, say) between the listing and the read, it is not a broken entry but none at all.
 */
async function markGone<T>(paths: string[], reads: (T | { problem: string } | null)[]): Promise<(T | { problem: string } | null | 'gone')[]> {
  return Promise.all(
    reads.map(async (r, i) => (r !== null && typeof r === 'object' && 'problem' in r && !(await existsNoFollow(paths[i]!)) ? 'gone' : r)),
  );
}

type MetaRead = { meta: SnapshotMeta & { incomplete: boolean } } | { problem: string };

/** Headers (`files` dropped) checked by this process, by `snapshot.json` file: see `checked-headers.ts`. */
const headers = new CheckedHeaders<SnapshotMeta & { incomplete: boolean }>();

/**
 * Snapshot `id`'s `snapshot.json`, checked; with `keepFiles` false its `files` is `[]` (checked,
 * then dropped), and a header this process checked before is not read again while the file is
 * the same (`CheckedHeaders`).
 */
async function readSnapshotMeta(store: string, id: string, keepFiles = true, like?: readonly ScanEntry[]): Promise<MetaRead> {
  if (keepFiles) return readSnapshotMetaFile(store, id, true, like);
  const file = snapshotMetaFile(store, id);
  const before = await identityOf(file);
  const known = before === null ? undefined : headers.get(file, before);
  if (known !== undefined) return { meta: { ...known, path: snapshotFilesDir(store, id) } };
  const r = await readSnapshotMetaFile(store, id, false);
  if (before !== null && !('problem' in r)) {
    const after = await identityOf(file);
    if (after !== null && after.key === before.key) headers.set(file, before, r.meta, Date.now());
  }
  return r;
}

/**
 * Snapshot `id`'s `snapshot.json`, checked; its entries share equal strings as they are read
 * (`sharingWith`: their times, and with `like`, a scan of the run, that scan's strings).
 */
async function readSnapshotMetaFile(store: string, id: string, keepFiles: boolean, like?: readonly ScanEntry[]): Promise<MetaRead> {
  // Read a batch of entries at a time: a manifest of 100,000 files is 29 MB of text.
  const share = sharingWith(like) as (entry: unknown) => void;
  const json = await readSnapshotJson(snapshotMetaFile(store, id), { keep: keepFiles, check: entryProblem, share });
  if ('problem' in json) return json;
  const checked = checkSnapshotRecord(json.value, id, 'snapshot.json', json.filesProblem);
  if ('problem' in checked) return checked;
  const meta = checked.meta;
  return { meta: { ...meta, path: snapshotFilesDir(store, id), incomplete: isIncomplete(meta) } };
}

/**
 * When save `id` was committed (ns): the time its record keeps (`COMMITTED_CTIME_KEY`: when its
 * export was placed, or what its first label change or a sweep kept), else (an older record) its ctime. A kept value that is no count of nanoseconds is 0 (the epoch), so that
 * nothing counts as unchanged since.
 */
export async function saveCommittedCtime(store: string, id: string): Promise<bigint> {
  const file = saveRecordFile(store, id);
  const json = await readJson(file);
  if ('problem' in json) throw new Error(`save ${id}: ${json.problem}`);
  const kept = (json.value as Record<string, unknown>)[COMMITTED_CTIME_KEY];
  if (kept === undefined) return (await fsp.lstat(file, { bigint: true })).ctimeNs;
  return typeof kept === 'string' && /^\d{1,30}$/.test(kept) ? BigInt(kept) : 0n;
}

async function readSaveMeta(store: string, id: string): Promise<{ meta: SaveMeta } | { problem: string }> {
  const json = await readJson(saveRecordFile(store, id));
  if ('problem' in json) return json;
  return checkSaveRecord(json.value, id);
}

async function readJson(file: string): Promise<{ value: unknown } | { problem: string }> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { problem: code === 'ENOENT' ? `${path.basename(file)} is missing (unfinished or damaged)` : (err as Error).message };
  }
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (err) {
    return { problem: `${path.basename(file)} is not valid JSON: ${(err as Error).message}` };
  }
}


/** Metadata files read at once: one at a time, 1,000 snapshots took ~0.2 s of thread-pool round trips. */
const READ_PARALLEL = 16;

