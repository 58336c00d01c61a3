/**
 * Where everything lives in a store (see `types.ts` for the layout) and how a store is created.
 * Every path helper takes an id already checked with `isValidId`; none touches the file system.
 */
import path from 'node:path';
import { ensureDirDurable } from './durable.js';
import { StoreNotWritableError } from './errors.js';

/** Mode of every folder ckptd creates: no group or other write. */
export const DIR_MODE = 0o755;

/** The prefix of every temp name ckptd writes (atomic writes, saves in progress); swept at start. */
export const TEMP_PREFIX = '.ckptd-tmp-';

/** `<store>/snapshots`. */
export function snapshotsDir(store: string): string {
  return path.join(store, 'snapshots');
}

/** `<store>/snapshots/<id>`. */
export function snapshotDir(store: string, id: string): string {
  return path.join(store, 'snapshots', id);
}

/** `<store>/snapshots/<id>/files`: the captured state (the snapshot's `path`). */
export function snapshotFilesDir(store: string, id: string): string {
  return path.join(store, 'snapshots', id, 'files');
}

/** `<store>/snapshots/<id>/snapshot.json`. */
export function snapshotMetaFile(store: string, id: string): string {
  return path.join(store, 'snapshots', id, 'snapshot.json');
}

/** `<store>/.staging`: snapshots being written; never visible, swept at start. */
export function stagingRoot(store: string): string {
  return path.join(store, '.staging');
}

/** `<store>/.trash`: snapshots being deleted (renamed here first so they vanish atomically). */
export function trashRoot(store: string): string {
  return path.join(store, '.trash');
}

/** `<store>/saves`: the default `save.to`. */
export function defaultSavesDir(store: string): string {
  return path.join(store, 'saves');
}

/** `<store>/save-records`. */
export function saveRecordsDir(store: string): string {
  return path.join(store, 'save-records');
}

/** `<store>/save-records/<id>.json`. */
export function saveRecordFile(store: string, id: string): string {
  return path.join(store, 'save-records', `${id}.json`);
}

/** The name prefix of a save record not yet committed (see `pendingSaveRecordFile`). */
const PENDING_RECORD_PREFIX = `${TEMP_PREFIX}pending-`;

/**
 * `<store>/save-records/.ckptd-tmp-pending-<id>.json`: the record of a save being written, under a
 * hidden temp name that readers skip. `writeSave` writes it before the export becomes visible and
 * renames it to `<id>.json` after, so a crash in between leaves it naming the export (see `sweepStore`).
 */
export function pendingSaveRecordFile(store: string, id: string): string {
  return path.join(store, 'save-records', `${PENDING_RECORD_PREFIX}${id}.json`);
}

/** The name prefix of a save's intent (see `saveIntentFile`). */
const INTENT_PREFIX = `${TEMP_PREFIX}intent-`;

/**
 * `<store>/save-records/.ckptd-tmp-intent-<id>`: written (durably) before a save of `id` creates
 * its temp export in `save.to`, removed once it is done or taken back. It is how a sweep proves a
 * temp name in `save.to` (a folder other stores may share, and the person's own) is this store's.
 */
export function saveIntentFile(store: string, id: string): string {
  return path.join(store, 'save-records', `${INTENT_PREFIX}${id}`);
}

/** The id in a save intent's file name, or null when `name` is not one (the id is not checked). */
export function saveIntentId(name: string): string | null {
  return name.startsWith(INTENT_PREFIX) ? name.slice(INTENT_PREFIX.length) : null;
}

/** The id of a save's temp export name (`.ckptd-tmp-<id>` and an extension), or null. */
export function saveTempId(name: string): string | null {
  if (!name.startsWith(TEMP_PREFIX)) return null;
  const rest = name.slice(TEMP_PREFIX.length);
  const dot = rest.indexOf('.');
  return dot === -1 ? rest : rest.slice(0, dot);
}

/** The id in a pending save record's file name, or null when `name` is not one (the id is not checked). */
export function pendingSaveRecordId(name: string): string | null {
  return name.startsWith(PENDING_RECORD_PREFIX) && name.endsWith('.json') ? name.slice(PENDING_RECORD_PREFIX.length, -'.json'.length) : null;
}

/**
 * `<store>/damaged`: one marker per snapshot or save that failed `ckptd verify`. Kept apart from
 * `snapshot.json`, which is never rewritten once the snapshot is visible.
 */
export function damagedDir(store: string): string {
  return path.join(store, 'damaged');
}

/** `<store>/damaged/<id>.json`: the marker of a damaged snapshot or save (see `damaged-marker.ts`). */
export function damagedMarkerFile(store: string, id: string): string {
  return path.join(store, 'damaged', `${id}.json`);
}

/** `<store>/state.json`: persisted policy anchors and counters. */
export function stateFile(store: string): string {
  return path.join(store, 'state.json');
}

/** `<store>/blocking.json`: files that keep the run from settling, as the running daemon sees them. */
export function blockingFile(store: string): string {
  return path.join(store, 'blocking.json');
}

/** `<store>/watch.json`: why the running daemon watches the run other than as configured (see `watch-note.ts`). */
export function watchNoteFile(store: string): string {
  return path.join(store, 'watch.json');
}

/** `<store>/last-failure.json`: the running daemon's backups or saves failing since (see `failure-note.ts`). */
export function failureNoteFile(store: string): string {
  return path.join(store, 'last-failure.json');
}

/** `<store>/push-queue.json`: records waiting to go up to the remote (see `push-queue-file.ts`). */
export function pushQueueFile(store: string): string {
  return path.join(store, 'push-queue.json');
}

/** `<store>/daemon.json`: who holds the store's lock. */
export function holderFile(store: string): string {
  return path.join(store, 'daemon.json');
}

/** `<store>/daemon.lock`: the lock itself (a folder holding `owner.json`, see `lock.ts`). */
export function lockPath(store: string): string {
  return path.join(store, 'daemon.lock');
}

/**
 * Mode of a store folder ckptd creates, and of the folders it creates above it (the default
 * `<run's parent>/.ckptd`): the snapshots are the run's data, so only its owner may enter. Set with
 * chmod after mkdir, so the umask cannot widen or narrow it. A store folder that exists already
 * keeps the mode its owner gave it: that is how a store is shared.
 */
export const STORE_DIR_MODE = 0o700;

/**
 * Creates the store and its `snapshots/`, `save-records/` and `.staging/` folders when missing.
 * The store folder and any missing folder above it are created `STORE_DIR_MODE` (0700) whatever the
 * umask; the folders inside it `DIR_MODE` less the umask. Existing folders are left as they are.
 * Each folder created is made durable (its parent is fsynced), so what is later committed into it
 * cannot vanish with it at a power loss. A store ckptd may not write (permission denied, a
 * read-only file system) is a `StoreNotWritableError` that names it, who ckptd runs as, and what to do.
 */
export async function ensureStore(store: string): Promise<void> {
  try {
    await ensureDirDurable(store, { mode: STORE_DIR_MODE, exactMode: true });
    for (const dir of [snapshotsDir(store), saveRecordsDir(store), stagingRoot(store)]) {
      await ensureDirDurable(dir, { mode: DIR_MODE });
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new StoreNotWritableError(store, code, (err as Error).message);
    throw err;
  }
}

/**
 * True when `rel` is a relative POSIX path that stays inside the folder it is joined to: not empty,
 * not absolute, no `.`/`..`/empty segments, no NUL. Guards every path read from a manifest or scan.
 */
export function isSafeRelPath(rel: string): boolean {
  if (rel === '' || rel.startsWith('/') || rel.includes('\0')) return false;
  return !UNSAFE_SEGMENT.test(rel);
}

/**
 * An empty, `.` or `..` segment. A test, not a split: it runs on every path of every manifest
 * read and every capture (a split made an array and a string per segment: ~0.1 s per 100,000 paths).
 */
const UNSAFE_SEGMENT = /(?:^|\/)\.{0,2}(?:\/|$)/;
