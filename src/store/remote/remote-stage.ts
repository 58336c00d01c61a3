/**
 * Capturing straight into a remote run: a store without local copies stages into a scratch LOCAL
 * store first (`scratchDir/<random>/`), so the capture is the real one (settle, retries, labels read
 * from the captured bytes, `skipped`, `left_out`), then uploads the blobs, then writes the manifest.
 * The scratch store is removed once the record is written or given up; one left by a killed process
 * is invisible (no manifest names it) and `sweep` empties `scratchDir`.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { removeTree } from '../durable.js';
import { idTime, newId } from '../ids.js';
import { assertLockHeld, signalOfHeldLock } from '../lock-signal.js';
import { importSnapshot } from '../import-snapshot.js';
import type { CommitSaveOptions, StageSnapshotOptions, Store } from '../store.js';
import type { SaveMeta, SnapshotMeta } from '../types.js';
import { writeSave } from '../write-save.js';
import { stagedHandle } from '../staged-handle.js';
import { stageSnapshot, type StagedSnapshot } from '../write-snapshot.js';
import { keyOfRecord, readRemoteSnapshot, usedIds, type RemoteRun } from './remote-records.js';
import { putRecord, remoteManifest, uploadBlobs } from './remote-upload.js';

/** Where a remote store stages: its scratch folder, and how to reach the run. */
export interface RemoteStaging {
  run: RemoteRun;
  scratchDir: string;
}

/**
 * A new id for a record made at `now`: unused in the run and sorting after every id it holds
 * (the caller holds the run's lock, so no other writer picks one meanwhile).
 */
export async function allocateRemoteId(r: RemoteRun, now: number): Promise<string> {
  const used = new Set(await usedIds(r));
  let newest: string | null = null;
  for (const id of used) if (idTime(id) !== null && (newest === null || id > newest)) newest = id;
  return newId(now, newest, (id) => used.has(id));
}

/**
 * What every new remote record starts with: the lock checked (`opts.signal`, else the lock this
 * process holds on the run), an id allocated against the run, and a new, empty scratch folder
 * under `scratchDir` (created 0700 when missing).
 */
/** The name prefix of the scratch folders captures make (`mkdtemp`); `sweep` removes only these. */
export const SCRATCH_STAGE_PREFIX = 'stage-';

async function beginRecord(s: RemoteStaging, opts: { signal?: AbortSignal; now: number }): Promise<{ r: RemoteRun; signal: AbortSignal | undefined; id: string; scratch: string }> {
  const signal = opts.signal ?? signalOfHeldLock(s.run.location);
  assertLockHeld(signal);
  const id = await allocateRemoteId(s.run, opts.now);
  await fsp.mkdir(s.scratchDir, { recursive: true, mode: 0o700 });
  return { r: s.run, signal, id, scratch: await fsp.mkdtemp(path.join(s.scratchDir, SCRATCH_STAGE_PREFIX)) };
}

/**
 * `Store.stageSnapshot` of a remote store: the capture in a scratch store (with `previous` null:
 * sharing happens by blob, an unchanged file's blob is found stored and not sent), every blob
 * uploaded, and a handle whose `commit` writes the manifest. `linked_bytes` counts bytes whose blob
 * was already stored, `copied_bytes` bytes uploaded. On any error the scratch store is removed.
 */
export async function stageRemoteSnapshot(s: RemoteStaging, opts: StageSnapshotOptions): Promise<StagedSnapshot> {
  const { r, signal, id, scratch } = await beginRecord(s, opts);
  let meta: SnapshotMeta;
  try {
    const local = await (await stageSnapshot({ ...opts, store: scratch, previous: null, signal }, id)).commit();
    const blobs = await uploadBlobs(r, scratch, local, signal ? { signal } : {});
    meta = remoteManifest(r, local, blobs) as SnapshotMeta;
  } catch (err) {
    await removeTree(scratch).catch(() => undefined);
    throw err;
  }
  return stagedHandle(id, meta, {
    async publish() {
      assertLockHeld(signal);
      await r.objects.putJson(keyOfRecord(r, meta), meta, signal);
    },
    afterPublish: () => removeTree(scratch).catch(() => undefined),
    discard: () => removeTree(scratch),
  });
}

/**
 * `Store.commitSave` of a remote store: the export into the scratch store (`opts.saveTo` is not
 * written: a remote save lives in the remote store only), its blobs uploaded, then its record. The
 * record's `from_snapshot` is `opts.from` (the backup of the same state) unless that is damaged.
 */
export async function commitRemoteSave(s: RemoteStaging, opts: CommitSaveOptions): Promise<SaveMeta> {
  const { r, signal, id, scratch } = await beginRecord(s, opts);
  try {
    // `from` names a remote snapshot, whose copies are not in the scratch store: capture from the run.
    const local = await writeSave({ ...opts, store: scratch, saveTo: path.join(scratch, 'exports'), from: null, signal }, id);
    const blobs = await uploadBlobs(r, scratch, local, signal ? { signal } : {});
    const from = opts.from !== null && opts.from.damaged !== true ? opts.from.id : null;
    const meta = { ...(remoteManifest(r, local, blobs) as SaveMeta), from_snapshot: from };
    assertLockHeld(signal);
    await r.objects.putJson(keyOfRecord(r, meta), meta, signal);
    return meta;
  } finally {
    await removeTree(scratch).catch(() => undefined);
  }
}

/**
 * `Store.importSnapshot` of a remote store: the snapshot of `from` is first imported into a scratch
 * LOCAL store (every file checked against its manifest there), then its blobs and manifest are
 * uploaded (`putRecord`), the manifest last; the scratch store is removed either way.
 * `onBytes` counts the bytes read from `from`. Refuses an id the remote run already has.
 */
export async function importRemoteSnapshot(s: RemoteStaging, from: Store, record: SnapshotMeta, opts: { onBytes?: (n: number) => void; signal?: AbortSignal } = {}): Promise<SnapshotMeta> {
  const signal = opts.signal ?? signalOfHeldLock(s.run.location);
  assertLockHeld(signal);
  const existing = await readRemoteSnapshot(s.run, record.id);
  if ('meta' in existing || 'problem' in existing) throw new Error(`snapshot ${record.id} is already in ${s.run.location}`);
  await fsp.mkdir(s.scratchDir, { recursive: true, mode: 0o700 });
  const scratch = await fsp.mkdtemp(path.join(s.scratchDir, 'import-'));
  try {
    const local = await importSnapshot(scratch, from, record, { ...(opts.onBytes ? { onBytes: opts.onBytes } : {}), ...(signal ? { signal } : {}) });
    const put = await putRecord(s.run, scratch, local, signal ? { signal, lockSignal: signal } : {});
    return put.meta as SnapshotMeta;
  } finally {
    await removeTree(scratch).catch(() => undefined);
  }
}
