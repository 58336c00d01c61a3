/**
 * The remote store (SPEC section 8, issue 13): the `Store` interface over one run of an S3 target,
 * `s3://BUCKET/PREFIX/runs/<run>/`, passing the same conformance suite as the local store. Blobs
 * (`blobs/sha256/..`) are shared by every run and machine; a record is its manifest
 * (`runs/<run>/snapshots/<id>.json`, `runs/<run>/saves/<id>.json`), written only after all its
 * blobs exist, so a record is visible exactly when complete. Removing a record deletes its
 * manifest; its blobs go at the next `collectGarbage`. An adapter: each job lives in its module
 * (`remote-records` reads, `remote-upload` pushes a local record, `remote-stage` captures through
 * a scratch local store, `remote-files` reads and verifies files, `remote-writes` labels, removes,
 * marks and sweeps, `remote-lease` locks, `remote-gc` collects).
 */
import { createHash } from 'node:crypto';
import type { RecordMeta } from '../types.js';
import type { Store, StoreRecord, VerifyResult } from '../store.js';
import { isValidIdPrefix } from '../ids.js';
import { lastKnownAmong } from '../last-known.js';
import { invalidIdMessage, resolveAmong } from '../record-shape.js';
import { copyRemoteFile, openRemoteFile, readRemoteLink, verifyRemoteData, verifyRemoteExists } from './remote-files.js';
import { collectGarbage, listRemoteRuns, type GarbageResult } from './remote-gc.js';
import { acquireLease, leaseHolder } from './remote-lease.js';
import { damagedIds, readRunRecords, remoteRun, runRecordIds } from './remote-records.js';
import { commitRemoteSave, importRemoteSnapshot, stageRemoteSnapshot } from './remote-stage.js';
import { putRecord, type UploadOptions } from './remote-upload.js';
import { markRemoteVerified, relabelRemote, removeRemote, sweepRemote } from './remote-writes.js';
import type { S3Objects } from './s3-objects.js';
import { lockKey, runPrefix } from './s3-target.js';
import type { UploadState } from './upload-state.js';

export { listRemoteRuns };
export type { GarbageResult };

/** Multipart uploads older than this are abandoned by default (`sweep`): longer than any push pauses. */
export const DEFAULT_UPLOAD_GRACE_MS = 24 * 3600_000;

export interface RemoteStoreOptions {
  /** The object layer for the target. */
  objects: S3Objects;
  /** Run name: records live under `runs/<run>/`. */
  run: string;
  /** A LOCAL folder for staging (created on demand, 0700); `sweep` empties it. */
  scratchDir: string;
  /** `sweep` aborts blob multipart uploads started longer ago than this (default a day). */
  uploadGraceMs?: number;
}

export interface RemoteStore extends Store {
  readonly run: string;
  readonly objects: S3Objects;
  /**
   * Uploads `record`, a snapshot or save of the LOCAL store folder `fromStore` (read from its
   * stored files), then writes its manifest: every blob first, the manifest last, so it is never
   * visible half-uploaded. Blobs already stored are not sent. Resumable: `resume` gives the
   * multipart states the caller persisted from earlier `onState` calls (by sha256); `onState` is
   * awaited. Symlinks go in the manifest only. The manifest keeps the record's fields with `path` its
   * `s3://` URL and `copied_bytes`/`linked_bytes` the bytes uploaded / already stored. Idempotent:
   * a record already there with the same files is left as is (labels updated when they differ); one
   * with other files, or an invalid one, is refused.
   */
  putRecord(
    fromStore: string,
    record: RecordMeta,
    opts?: { onBytes?: (n: number) => void; signal?: AbortSignal; resume?: Record<string, UploadState>; onState?: (sha: string, state: UploadState | null) => Promise<void>; known?: ReadonlySet<string> },
  ): Promise<{ meta: RecordMeta; sentBytes: number; presentBytes: number }>;
  /** The ids of the run's records, from a listing alone (no manifest is read). */
  recordIds(): Promise<Set<string>>;
  /** The ids `verify --remote` marked damaged (a listing of the markers alone). */
  damagedIds(): Promise<Set<string>>;
  /** `verify --remote` without `--read-data`: every blob a manifest names exists with its size (HEAD). `changed` = wrong size, `missing` = no object. */
  verifyExists(record: StoreRecord): Promise<VerifyResult>;
  /**
   * Garbage collection over EVERY run under the prefix (see `remote-gc.ts`): blobs no manifest names
   * and older than `graceMs` before `now` are deleted, abandoned multipart uploads older than the
   * grace aborted. `dryRun` lists only.
   */
  collectGarbage(graceMs: number, now: number, opts?: { dryRun?: boolean; signal?: AbortSignal }): Promise<GarbageResult>;
}

/** The remote store of run `opts.run` (nothing is sent until a method is called). */
export function openRemoteStore(opts: RemoteStoreOptions): RemoteStore {
  const r = remoteRun(opts.objects, opts.run);
  const staging = { run: r, scratchDir: opts.scratchDir };
  const records = (kinds?: readonly ('snapshot' | 'save')[]) => readRunRecords(r, kinds);
  const resolve = async (idOrPrefix: string): Promise<StoreRecord> => {
    if (!isValidIdPrefix(idOrPrefix)) throw new Error(invalidIdMessage(idOrPrefix));
    const all = await records();
    return resolveAmong([...all.snapshots, ...all.saves], idOrPrefix, r.location);
  };
  return {
    location: r.location,
    run: opts.run,
    objects: opts.objects,
    listSnapshots: async () => (await records(['snapshot'])).snapshots,
    listSnapshotHeaders: async () => (await records(['snapshot'])).snapshots.map(({ files: _dropped, ...header }) => header),
    listSaves: async () => (await records(['save'])).saves,
    findBroken: async () => (await records()).problems,
    newestGood: async () => (await records(['snapshot'])).snapshots.find((s) => !s.damaged && !s.incomplete) ?? null,
    newestGoodHeader: async () => {
      const newest = (await records(['snapshot'])).snapshots.find((s) => !s.damaged && !s.incomplete);
      if (newest === undefined) return null;
      const { files: _dropped, ...header } = newest;
      return header;
    },
    lastKnown: async (paths) => lastKnownAmong((await records(['snapshot'])).snapshots, paths),
    resolve,
    openFile: (record, relPath) => openRemoteFile(r, record, relPath),
    copyFileOut: (record, relPath, dest, o) => copyRemoteFile(r, record, relPath, dest, o),
    readLink: async (record, relPath) => readRemoteLink(record, relPath),
    stageSnapshot: (o) => stageRemoteSnapshot(staging, o),
    importSnapshot: (from, record, o) => importRemoteSnapshot(staging, from, record, o),
    commitSave: (o) => commitRemoteSave(staging, o),
    async updateLabels(idOrPrefix, change, o) {
      const record = await resolve(idOrPrefix);
      await relabelRemote(r, record, change, o?.signal);
      return resolve(record.id);
    },
    remove: (id, o) => removeRemote(r, id, o ?? {}),
    storedUnits: async (record) => uniqueBlobs(record),
    verify: (record, onBytes) => verifyRemoteData(r, record, onBytes),
    markVerified: (result, now) => markRemoteVerified(r, result, now),
    async ensure() {
      // Nothing to create: a prefix exists once an object is under it. A listing proves the bucket answers.
      await opts.objects.listKeys(runPrefix(opts.objects.target, opts.run));
    },
    freeBytes: async () => Infinity,
    freeInodes: async () => Infinity,
    sharesCopyOnWrite: async () => false,
    lockHolder: () => leaseHolder(r),
    lock: (info, onCompromised) => acquireLease(r, info, onCompromised),
    sweep: () => sweepRemote(r, { scratchDir: opts.scratchDir, uploadGraceMs: opts.uploadGraceMs ?? DEFAULT_UPLOAD_GRACE_MS, now: Date.now() }),
    signature: () => runSignature(opts.objects, opts.run),
    putRecord: (fromStore, record, o: UploadOptions = {}) => putRecord(r, fromStore, record, o),
    verifyExists: (record) => verifyRemoteExists(r, record),
    recordIds: () => runRecordIds(r),
    damagedIds: () => damagedIds(r),
    collectGarbage: (graceMs, now, o) => collectGarbage(opts.objects, graceMs, now, o),
  };
}

/**
 * What a record occupies: one unit per distinct blob, `links: 1`. Blobs are shared across records
 * and runs, and counting the manifests naming each would read every manifest of every run: the
 * units over-state what deleting a record frees (the garbage collection, not the delete, frees it).
 */
function uniqueBlobs(record: RecordMeta): { key: string; size: number; links: number }[] {
  const seen = new Map<string, number>();
  for (const f of record.files) if (f.type !== 'symlink') seen.set(f.sha256, f.size);
  return [...seen].map(([key, size]) => ({ key, size, links: 1 }));
}

/**
 * A digest of the listing of `runs/<run>/` (key, size, ETag, LastModified of each object), the
 * lease left out (its refresh is no change of records). A manifest relabelled or a marker written
 * changes its ETag, an object added or deleted the listing.
 */
async function runSignature(objects: S3Objects, run: string): Promise<string> {
  const lease = lockKey(objects.target, run);
  const hash = createHash('sha256');
  for (const o of await objects.listObjects(runPrefix(objects.target, run))) {
    if (o.key === lease) continue;
    hash.update(`${o.key}\0${o.size}\0${o.etag}\0${o.lastModified.getTime()}\n`);
  }
  return hash.digest('hex');
}
