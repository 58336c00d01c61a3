/**
 * Uploading a record of a LOCAL store to a remote run: every blob its files need, then (in
 * `putRecord`) its manifest, last, so a manifest is never visible before all of its blobs exist.
 * Blobs already stored are not sent; multipart uploads resume from the states the caller persisted.
 */
import fsp from 'node:fs/promises';
import { assertLockHeld } from '../lock-signal.js';
import { isIncomplete } from '../read-store.js';
import { locateFile } from '../stored-file.js';
import type { ManifestEntry, RecordMeta } from '../types.js';
import { mapPool } from '../../util/run-pools.js';
import { markInUse } from './remote-gc.js';
import { keyOfRecord, readRemoteSave, readRemoteSnapshot, type RemoteRun } from './remote-records.js';
import { blobKey, objectUrl } from './s3-target.js';
import type { UploadState } from './upload-state.js';

/** Blobs uploaded at once. */
const UPLOAD_PARALLEL = 4;

/**
 * A blob this push uploaded longer ago than this is marked in use before its manifest is written,
 * as one found already stored is: far below the collection's grace (a day).
 */
const MARK_UPLOADED_AFTER_MS = 3600_000;

/** What `uploadBlobs` and `putRecord` report and obey. */
export interface UploadOptions {
  /** Each count of bytes done (sent, or found already stored). */
  onBytes?: (n: number) => void;
  signal?: AbortSignal;
  /** Multipart states persisted from earlier `onState` calls, by sha256. */
  resume?: Record<string, UploadState>;
  /** Called, and awaited, with each new state of a blob's multipart upload (null: done or given up). */
  onState?: (sha: string, state: UploadState | null) => Promise<void>;
  /**
   * Blobs the caller knows a manifest on the remote names (the files of a record already pushed):
   * neither asked for (HEAD) nor checked again after the manifest, since no garbage collection
   * removes a blob a manifest names. Counted as already stored.
   */
  known?: ReadonlySet<string>;
}

/** What the blobs of one record cost: bytes of its files uploaded now vs. found stored already. */
export interface UploadedBlobs {
  /** Bytes of the record's regular files whose blob this call uploaded (each blob counted once). */
  copiedBytes: number;
  /** Bytes of the record's other regular files (blob already stored, or a repeat within the record). */
  linkedBytes: number;
  /** Bytes that crossed the wire (parts finished before a resume not counted). */
  sentBytes: number;
  /** Bytes of distinct blobs that were already stored. */
  presentBytes: number;
  /** The sha256 of each blob that was already stored (not sent by this call). */
  present: string[];
  /** The sha256 of each blob this call uploaded, with when (ms since the epoch) its upload ended. */
  uploaded: { sha: string; at: number }[];
}

/**
 * Makes every blob of `record` (a record of the local store `fromStore`, its files read where that
 * store keeps them) exist in the remote store. Symlinks have no blob. Throws when a stored file is
 * missing or not the size its manifest says (`FileChangedError` from the object layer when its
 * bytes do not hash to its sha256: nothing is stored under the key then).
 */
export async function uploadBlobs(r: RemoteRun, fromStore: string, record: RecordMeta, opts: UploadOptions = {}): Promise<UploadedBlobs> {
  const firsts = new Map<string, ManifestEntry>();
  for (const f of record.files) if (f.type !== 'symlink' && !firsts.has(f.sha256)) firsts.set(f.sha256, f);
  const outcomes = await mapPool([...firsts.values()], UPLOAD_PARALLEL, async (f) => {
    opts.signal?.throwIfAborted();
    if (opts.known?.has(f.sha256)) return { sha: f.sha256, size: f.size, outcome: 'known' as const, sentBytes: 0, reusedParts: 0 };
    const file = await locateFile(fromStore, record, f.path);
    const st = await fsp.lstat(file);
    if (!st.isFile() || st.size !== f.size) {
      throw new Error(`${record.kind} ${record.id}: the stored ${f.path} is ${st.isFile() ? `${st.size} bytes, its manifest says ${f.size}` : 'not a regular file'}; run \`ckptd verify ${record.id}\``);
    }
    let reported = 0;
    const put = await r.objects.putBlob(f.sha256, f.size, file, {
      resume: resumeStateFor(r, f.sha256, opts.resume),
      onState: (state) => opts.onState?.(f.sha256, state),
      onBytes: (done) => {
        opts.onBytes?.(done - reported);
        reported = done;
      },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return { sha: f.sha256, size: f.size, ...put, at: Date.now() };
  });
  const uploaded = new Set(outcomes.filter((o) => o.outcome === 'uploaded').map((o) => o.sha));
  const regular = record.files.filter((f) => f.type !== 'symlink');
  const copiedBytes = [...firsts.values()].filter((f) => uploaded.has(f.sha256)).reduce((n, f) => n + f.size, 0);
  return {
    copiedBytes,
    linkedBytes: regular.reduce((n, f) => n + f.size, 0) - copiedBytes,
    sentBytes: outcomes.reduce((n, o) => n + o.sentBytes, 0),
    presentBytes: outcomes.filter((o) => o.outcome !== 'uploaded').reduce((n, o) => n + o.size, 0),
    present: outcomes.filter((o) => o.outcome === 'present').map((o) => o.sha),
    uploaded: outcomes.flatMap((o) => (o.outcome === 'uploaded' ? [{ sha: o.sha, at: o.at }] : [])),
  };
}

/**
 * The persisted state of blob `sha`'s multipart upload when it is an upload to this target; null
 * otherwise. One kept from before `remote.url` was edited belongs to the old target: its parts
 * cannot be resumed here, and the blob starts over (the old upload is the old target's to sweep).
 */
function resumeStateFor(r: RemoteRun, sha: string, resume: UploadOptions['resume']): UploadState | null {
  const state = resume?.[sha] ?? null;
  return state !== null && state.key === blobKey(r.objects.target, sha) ? state : null;
}

/**
 * The manifest of `record` as the remote run keeps it: every field of the record, `path` the
 * manifest's URL, `copied_bytes`/`linked_bytes` from `blobs`, without the readers' `damaged`.
 */
export function remoteManifest(r: RemoteRun, record: RecordMeta, blobs: Pick<UploadedBlobs, 'copiedBytes' | 'linkedBytes'>): RecordMeta {
  const { damaged: _damaged, ...fields } = record;
  const path = objectUrl(r.objects.target, keyOfRecord(r, record));
  if (fields.kind === 'save') return { ...fields, path };
  return { ...fields, path, incomplete: isIncomplete(fields), copied_bytes: blobs.copiedBytes, linked_bytes: blobs.linkedBytes };
}

/**
 * `RemoteStore.putRecord`: uploads the blobs of `record`, then writes its manifest (checking the
 * lock's `signal` right before). A record already on the remote with the same files is left as it
 * is, its labels (name, notes, pinned) brought in line; one with the same id but other files is
 * refused.
 */
export async function putRecord(
  r: RemoteRun,
  fromStore: string,
  record: RecordMeta,
  opts: UploadOptions & { lockSignal?: AbortSignal } = {},
): Promise<{ meta: RecordMeta; sentBytes: number; presentBytes: number }> {
  const existing = record.kind === 'save' ? await readRemoteSave(r, record.id) : await readRemoteSnapshot(r, record.id);
  if ('problem' in existing) {
    throw new Error(`${objectUrl(r.objects.target, keyOfRecord(r, record))} is there but is not a valid record (${existing.problem}); it is not replaced: delete it yourself, then push again`);
  }
  if ('meta' in existing) {
    if (!sameFiles(existing.meta.files, record.files)) {
      throw new Error(`${existing.meta.path} already holds a ${record.kind === 'save' ? 'save' : 'snapshot'} ${record.id} with other files; it is not replaced (delete it with \`ckptd delete ${record.id} --remote\` first if it is wrong)`);
    }
    const { damaged: _d, ...stored } = existing.meta;
    // Already there, yet an earlier push may have stopped between its manifest and the blobs it had
    // to send again (see below): each blob is asked for, none taken on trust, and what is gone sent.
    const { known: _known, ...asked } = opts;
    const blobs = await uploadBlobs(r, fromStore, record, asked);
    const labels = { name: record.name, notes: record.notes, pinned: record.pinned };
    if (stored.name === labels.name && stored.notes === labels.notes && stored.pinned === labels.pinned) return { meta: stored, sentBytes: blobs.sentBytes, presentBytes: blobs.presentBytes };
    assertLockHeld(opts.lockSignal);
    const relabelled = { ...stored, ...labels } as RecordMeta;
    await r.objects.putJson(keyOfRecord(r, record), relabelled, opts.signal);
    return { meta: relabelled, sentBytes: blobs.sentBytes, presentBytes: blobs.presentBytes };
  }
  const blobs = await uploadBlobs(r, fromStore, record, opts);
  const meta = remoteManifest(r, record, blobs);
  // Blobs found already stored (maybe old and unreferenced), or sent long ago: no manifest names
  // them yet, and a collection on another machine counts their age from their upload. Marked in
  // use first, so one that listed the manifests before this one lands spares them (remote-gc.ts).
  const relied = [...blobs.present, ...blobs.uploaded.filter((u) => Date.now() - u.at >= MARK_UPLOADED_AFTER_MS).map((u) => u.sha)];
  await markInUse(r.objects, relied, opts.signal);
  assertLockHeld(opts.lockSignal);
  await r.objects.putJson(keyOfRecord(r, record), meta, opts.signal);
  // A collection may have removed one of them before the mark: check, and send again what went.
  const gone = await mapPool(relied, UPLOAD_PARALLEL, async (sha) => ((await r.objects.hasBlob(sha, sizeOf(record, sha), opts.signal)) ? null : sha));
  const resend = gone.filter((sha): sha is string => sha !== null);
  let sentBytes = blobs.sentBytes;
  if (resend.length > 0) {
    const again = await uploadBlobs(r, fromStore, { ...record, files: record.files.filter((f) => resend.includes(f.sha256)) } as RecordMeta, opts);
    sentBytes += again.sentBytes;
  }
  return { meta, sentBytes, presentBytes: blobs.presentBytes };
}

/** True when both lists name the same files with the same content, type, target and mode, in any order. */
export function sameFiles(a: readonly ManifestEntry[], b: readonly ManifestEntry[]): boolean {
  if (a.length !== b.length) return false;
  const byPath = new Map(a.map((f) => [f.path, f]));
  return b.every((f) => {
    const g = byPath.get(f.path);
    return g !== undefined && g.sha256 === f.sha256 && g.size === f.size && g.mode === f.mode && g.type === f.type && g.target === f.target;
  });
}

function sizeOf(record: RecordMeta, sha: string): number {
  return record.files.find((f) => f.sha256 === sha)!.size;
}
