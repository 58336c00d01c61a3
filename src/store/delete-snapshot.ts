/**
 * Deleting snapshots and saves, and sweeping what interrupted writes left behind. Nothing is
 * deleted that ckptd cannot prove it created: a snapshot must be a folder directly inside
 * `<store>/snapshots` whose fresh `snapshot.json` names it; a save only loses the files its record
 * lists, when its record names a path in `save.to` or `<store>/saves` and they still look as recorded.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { clearDamaged } from './damaged-marker.js';
import { commitStaged, fsyncDir, removeTree, TargetExistsError } from './durable.js';
import { isValidId } from './ids.js';
import { keepCommittedCtime } from './labels.js';
import { assertLockHeld, signalOfHeldLock } from './lock-signal.js';
import {
  DIR_MODE,
  TEMP_PREFIX,
  damagedDir,
  damagedMarkerFile,
  defaultSavesDir,
  isSafeRelPath,
  pendingSaveRecordFile,
  pendingSaveRecordId,
  saveIntentId,
  saveRecordFile,
  saveRecordsDir,
  snapshotDir,
  snapshotMetaFile,
  snapshotsDir,
  saveTempId,
  stagingRoot,
  trashRoot,
} from './layout.js';
import { isInside } from '../util/paths.js';
import { readSave, readSnapshotHeader, saveCommittedCtime } from './read-store.js';
import { assertOwnFolder, assertStillInside, walkInside } from './safe-dir.js';
import { SafetyError } from '../util/errors.js';
import type { SaveMeta, SnapshotHeader } from './types.js';
import { existsNoFollow, readdirOrEmpty } from '../util/fs.js';

/**
 * Deletes snapshot `id`. Re-reads its `snapshot.json` from disk, checks it names `id` and that the
 * folder really lies inside `<store>/snapshots` (after resolving symlinks), then asks `guard` with
 * the fresh metadata, without the manifest's entries (checked, not kept: tens of MB for a run of
 * 100,000 files): a string returned is a reason to refuse, and the deletion throws with it.
 * The folder is renamed into `<store>/.trash/` first (it disappears at once, atomically; a `.trash`
 * that is a symlink is refused, nothing deleted), then removed, and its damaged marker with it. Files shared with other snapshots (hard links) stay in
 * those. The caller holds the lock; once it is lost (`opts.signal`, default: the lock this process
 * holds on `store`) it throws `LockLostError` before the rename and deletes nothing.
 */
export async function deleteSnapshot(
  store: string,
  id: string,
  guard?: (meta: SnapshotHeader) => string | null,
  opts: { signal?: AbortSignal } = {},
): Promise<void> {
  const signal = opts.signal ?? signalOfHeldLock(store);
  if (!isValidId(id)) throw new Error(`refusing to delete ${JSON.stringify(id)}: not a valid snapshot id`);
  const dir = snapshotDir(store, id);
  const st = await fsp.lstat(dir).catch(() => null);
  if (st === null) throw new Error(`no snapshot ${id} in ${store}`);
  if (!st.isDirectory()) throw new Error(`refusing to delete ${dir}: not a folder`);
  const parent = await fsp.realpath(snapshotsDir(store));
  const real = await fsp.realpath(dir);
  if (path.dirname(real) !== parent || path.basename(real) !== id) throw new Error(`refusing to delete ${dir}: it resolves to ${real}, outside ${parent}`);
  const meta = await readSnapshotHeader(store, id);
  const reason = guard?.(meta) ?? null;
  if (reason !== null) throw new Error(`refusing to delete snapshot ${id}: ${reason}`);

  const trash = trashRoot(store);
  await fsp.mkdir(trash, { recursive: true, mode: DIR_MODE });
  await assertOwnFolder(trash);
  const target = path.join(trash, id);
  // A leftover of an interrupted delete of the same id: it was ours, finish removing it.
  await removeTree(target);
  assertLockHeld(signal);
  await fsp.rename(dir, target);
  await fsyncDir(snapshotsDir(store));
  await fsyncDir(trash);
  await removeTree(target);
  await fsyncDir(trash);
  await clearDamaged(store, id);
}

/** What `deleteSave` did: files removed, and files it left in place with the reason. */
export interface DeleteSaveResult {
  removed: string[];
  kept: { path: string; reason: string }[];
}

export interface DeleteSaveOptions {
  /**
   * The run's `save.to` (absolute). With `<store>/saves` it is the only folder a save may be
   * removed from: saves are written directly in it. Null: only `<store>/saves`.
   */
  saveTo: string | null;
  /** Asked with the fresh record: a string returned is a reason to refuse, and the deletion throws with it. */
  guard?: (meta: SaveMeta) => string | null;
  /** The store lock's signal; default: the lock this process holds on the store. */
  signal?: AbortSignal;
}

/**
 * Deletes save `id`: the exported file (or the files of the exported folder) that its record
 * lists, then the record. The record must name itself (`id`) and a path directly inside
 * `opts.saveTo` or `<store>/saves` whose name carries the id (as `writeSave` writes it); a record
 * naming anything else is refused (throws, nothing removed, the record kept) unless nothing exists
 * at that path, when only the record goes. A file is removed only when it is still a regular file
 * of the recorded size not changed since the save was committed (its ctime not past the
 * time its record keeps, `saveCommittedCtime`, which neither a label change nor a chmod over the store moves), or the recorded
 * symlink; in a folder, only through real folders (a subfolder that became a symlink is not
 * followed); anything else, and anything the user added to
 * a save's folder, is left in place and reported in `kept`. The record is removed last (then its
 * damaged marker), so an interrupted delete can be run again. `opts.signal` (default: the lock
 * this process holds on `store`) is checked before each removal, as in `deleteSnapshot`.
 */
export async function deleteSave(store: string, id: string, opts: DeleteSaveOptions): Promise<DeleteSaveResult> {
  const signal = opts.signal ?? signalOfHeldLock(store);
  if (!isValidId(id)) throw new Error(`refusing to delete ${JSON.stringify(id)}: not a valid save id`);
  const meta = await readSave(store, id);
  const reason = opts.guard?.(meta) ?? null;
  if (reason !== null) throw new Error(`refusing to delete save ${id}: ${reason}`);
  const result: DeleteSaveResult = { removed: [], kept: [] };
  const top = meta.path;
  const homes = [defaultSavesDir(store), ...(opts.saveTo !== null ? [opts.saveTo] : [])].map((d) => path.resolve(d));
  const ours = path.isAbsolute(top) && path.resolve(top) === top && homes.includes(path.dirname(top)) && path.basename(top).includes(id);
  const st = await fsp.lstat(top).catch(() => null);
  if (!ours && st !== null) {
    throw new Error(
      `refusing to delete save ${id}: its record names ${top}, which is not in ${homes.join(' or ')} under a name carrying the id; nothing was removed. ` +
        `If that file is yours to delete, delete it yourself; \`ckptd delete ${id}\` then removes the record`,
    );
  }
  // Any change to an exported file after the save was committed moved its ctime past the time
  // the record keeps: such a file is the person's now, whatever its size.
  const committed = await saveCommittedCtime(store, id);
  const untouched = (abs: string): Promise<boolean> => fsp.lstat(abs, { bigint: true }).then((x) => x.ctimeNs <= committed, () => false);
  if (st === null) {
    // Already gone: only the record is left to remove.
  } else if (st.isFile()) {
    const f = meta.files.length === 1 ? meta.files[0]! : null;
    if (f !== null && f.type === undefined && st.size === f.size && (await untouched(top))) {
      assertLockHeld(signal);
      await fsp.unlink(top);
      result.removed.push(top);
    } else result.kept.push({ path: top, reason: 'it no longer matches the save record' });
  } else if (st.isDirectory()) {
    await deleteSaveFolder(top, meta, result, signal, untouched);
  } else result.kept.push({ path: top, reason: 'not a file or folder' });
  if (st !== null) await fsyncDir(path.dirname(top)).catch(() => undefined);
  assertLockHeld(signal);
  await fsp.rm(saveRecordFile(store, id), { force: true });
  await fsyncDir(saveRecordsDir(store));
  await clearDamaged(store, id);
  return result;
}

async function deleteSaveFolder(top: string, meta: SaveMeta, result: DeleteSaveResult, signal: AbortSignal | undefined, untouched: (abs: string) => Promise<boolean>): Promise<void> {
  const root = await fsp.realpath(top);
  // Checks every folder from the save's own down with lstat; a refusal names the symlink.
  const folder = async (rel: string): Promise<string | null | { refused: string }> =>
    walkInside(root, rel).catch((err: unknown) => {
      if (err instanceof SafetyError) return { refused: err.message };
      throw err;
    });
  const dirs = new Set<string>();
  for (const f of meta.files) {
    if (!isSafeRelPath(f.path)) {
      result.kept.push({ path: f.path, reason: 'unsafe path in the record' });
      continue;
    }
    const file = path.join(top, f.path);
    const dir = await folder(path.posix.dirname(f.path));
    if (dir === null) continue;
    if (typeof dir !== 'string') {
      result.kept.push({ path: file, reason: dir.refused });
      continue;
    }
    const abs = path.join(dir, path.posix.basename(f.path));
    const st = await fsp.lstat(abs).catch(() => null);
    if (st === null) continue;
    const matches = f.type === 'symlink' ? st.isSymbolicLink() : st.isFile() && st.size === f.size && (await untouched(abs));
    if (!matches) {
      result.kept.push({ path: file, reason: 'it no longer matches the save record' });
      continue;
    }
    assertLockHeld(signal);
    await fsp.unlink(abs);
    result.removed.push(file);
    await assertStillInside(root, dir);
    for (let d = path.posix.dirname(f.path); d !== '.'; d = path.posix.dirname(d)) dirs.add(d);
  }
  // Deepest first; a folder holding anything not ours stays (rmdir never removes content).
  const ordered = [...dirs].sort((a, b) => b.split('/').length - a.split('/').length);
  for (const rel of [...ordered, '.']) {
    const d = rel === '.' ? top : path.join(top, rel);
    const parent = rel === '.' ? path.dirname(top) : await folder(path.posix.dirname(rel));
    if (typeof parent !== 'string') continue;
    await fsp.rmdir(rel === '.' ? top : path.join(parent, path.posix.basename(rel))).then(
      () => result.removed.push(d),
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOTEMPTY' || err.code === 'EEXIST') result.kept.push({ path: d, reason: 'holds files that are not part of the save' });
        else if (err.code === 'ENOTDIR') result.kept.push({ path: d, reason: 'not a folder' });
        else if (err.code !== 'ENOENT') throw err;
      },
    );
  }
}

/**
 * Removes what interrupted work left in the store: the id-named folders in `.staging/` and `.trash/`
 * (other entries there, a person's file or a symlink, stay),
 * `.ckptd-tmp-*` temp files in the store, each snapshot's folder (a label change's), `save-records/`,
 * `damaged/` and `saves/`, in each of `saveDirs` (the runs' `save.to`) outside the store only the
 * temp exports of saves this store began (`saveIntentFile`), and damaged markers (`damaged/<id>.json`) of snapshots and
 * saves that no longer exist. A save interrupted between its export's rename and its record's
 * commit left a pending record (`save-records/.ckptd-tmp-pending-<id>.json`, see `writeSave`):
 * when something is at the path it names, the export is complete (it is renamed there only once
 * fsynced), so the record is committed and listed in `completed`; otherwise the pending record is
 * removed with the other temp names. Nothing without ckptd's temp prefix is ever removed. Returns
 * the absolute paths removed, for the log, and in `kept` each leftover that could not be removed
 * (with the error), which stays: the sweep goes on past it. A `.staging/` or `.trash/` that is not a real folder (a
 * symlink out of the store) is refused: it throws, nothing in it removed. Call it at start-up while
 * holding the lock (no write is in progress then).
 */
export async function sweepStore(store: string, saveDirs: string[] = []): Promise<{ removed: string[]; completed: string[]; kept: { path: string; reason: string }[] }> {
  const removed: string[] = [];
  const kept: { path: string; reason: string }[] = [];
  // A leftover that cannot go (an immutable file, a read-only mount) stays and is reported: it is
  // invisible and in no one's way, so it must not keep the run from starting.
  const remove = async (p: string, how: (p: string) => Promise<void> = removeTree): Promise<void> => {
    try {
      await how(p);
      removed.push(p);
    } catch (err) {
      if (typeof (err as NodeJS.ErrnoException).code !== 'string') throw err;
      kept.push({ path: p, reason: (err as Error).message });
    }
  };
  // The saves this store began (an intent or a pending record): only their temp names in a save.to
  // outside the store are its to remove (another store may share that folder, a person may keep files there).
  const began = new Set<string>();
  for (const name of await readdirOrEmpty(saveRecordsDir(store))) {
    const id = saveIntentId(name) ?? pendingSaveRecordId(name);
    if (id !== null && isValidId(id)) began.add(id);
  }
  const completed = await completePendingSaves(store);
  for (const dir of [stagingRoot(store), trashRoot(store)]) {
    await assertOwnFolder(dir);
    for (const name of await readdirOrEmpty(dir)) {
      // ckptd only ever makes id-named folders here: a file, a symlink or another name is not its to remove.
      if (!isValidId(name) || !(await fsp.lstat(path.join(dir, name)).catch(() => null))?.isDirectory()) continue;
      await remove(path.join(dir, name));
    }
  }
  const tempDirs = new Set([store, saveRecordsDir(store), damagedDir(store), defaultSavesDir(store), ...saveDirs.map((d) => path.resolve(d))]);
  for (const dir of tempDirs) {
    const ours = isInside(dir, store) ? (name: string) => name.startsWith(TEMP_PREFIX) : (name: string) => began.has(saveTempId(name) ?? '');
    for (const name of await readdirOrEmpty(dir)) {
      if (!ours(name)) continue;
      await remove(path.join(dir, name));
    }
  }
  // A label change killed before its rename left its temp copy of snapshot.json in the snapshot's folder.
  for (const id of (await readdirOrEmpty(snapshotsDir(store))).filter(isValidId)) {
    const dir = snapshotDir(store, id);
    // Only a real folder: what a symlink of that name points to is not the store's.
    if (!(await fsp.lstat(dir).catch(() => null))?.isDirectory()) continue;
    for (const name of await readdirOrEmpty(dir)) if (name.startsWith(TEMP_PREFIX)) await remove(path.join(dir, name), (p) => fsp.rm(p));
  }
  for (const name of await readdirOrEmpty(damagedDir(store))) {
    const id = name.endsWith('.json') ? name.slice(0, -'.json'.length) : '';
    if (!isValidId(id)) continue;
    if ((await existsNoFollow(snapshotMetaFile(store, id))) || (await existsNoFollow(saveRecordFile(store, id)))) continue;
    await remove(damagedMarkerFile(store, id), (p) => fsp.rm(p, { force: true }));
  }
  return { removed, completed, kept };
}

/**
 * Commits each pending save record whose export is in place (see `sweepStore`); returns the records
 * committed. One whose export never appeared, or that is not a readable record of its id, is left
 * for the temp sweep that follows.
 */
async function completePendingSaves(store: string): Promise<string[]> {
  const completed: string[] = [];
  for (const name of await readdirOrEmpty(saveRecordsDir(store))) {
    const id = pendingSaveRecordId(name);
    if (id === null || !isValidId(id)) continue;
    const pending = pendingSaveRecordFile(store, id);
    let target: unknown;
    try {
      const m = JSON.parse(await fsp.readFile(pending, 'utf8')) as Partial<SaveMeta>;
      target = m.id === id && m.kind === 'save' ? m.path : null;
    } catch {
      continue;
    }
    if (typeof target !== 'string' || !path.isAbsolute(target)) continue;
    if (!(await existsNoFollow(target))) continue;
    // `deleteSave` takes an export changed after its record's commit (its ctime) as the person's. A
    // commit now, maybe long after the kill, would pass their changes since: the record keeps an
    // earlier time, written into it before.
    const record = saveRecordFile(store, id);
    const lstatOrNull = (f: string) => fsp.lstat(f, { bigint: true }).catch(() => null);
    const pendingSt = await lstatOrNull(pending);
    const recordSt = await lstatOrNull(record);
    if (pendingSt === null) continue;
    if (recordSt !== null) {
      // Killed between the commit's link and unlink: committed then; the sweep's unlink of the
      // pending name would move the record's ctime to now.
      if (recordSt.ino === pendingSt.ino) await keepCommittedCtime(store, record, id, recordSt.ctimeNs);
      continue;
    }
    // Killed before the commit: the pending record was written before the export was placed.
    await keepCommittedCtime(store, pending, id, pendingSt.ctimeNs);
    try {
      await commitStaged(pending, record, { noReplace: true });
      completed.push(record);
    } catch (err) {
      // A record of that id exists already: it is the one that counts, the pending copy is swept.
      if (!(err instanceof TargetExistsError)) throw err;
    }
  }
  return completed;
}
