/**
 * What the whole remote store (every run under the prefix) holds: its runs, and the garbage
 * collection of blobs no manifest names any more (as restic's prune). Blobs are shared by every
 * snapshot, run and machine, so the collection reads EVERY manifest under `runs/` before it deletes
 * anything, and spares blobs younger than a grace period: another machine's push in progress has
 * uploaded blobs whose manifest it has not written yet.
 *
 * Known limit: a push that finds an OLD unreferenced blob already stored (so does not send it), or
 * uploads for longer than the grace, and writes its manifest after this collection listed the
 * manifests can lose that blob. A collection should run when no push of any run is in progress
 * (restic takes an exclusive lock for prune): in one process, `ops/remote-turns.ts` sees to that;
 * between machines nothing does.
 */
import { mapPool } from '../../util/run-pools.js';
import { READ_PARALLEL } from './remote-records.js';
import type { S3Objects } from './s3-objects.js';
import { blobKey, isSha256, objectUrl, parseRecordKey, runsPrefix, type ObjectKey } from './s3-target.js';

/** What `collectGarbage` did (or, in a dry run, would do). */
export interface GarbageResult {
  /** `s3://` URLs of the blobs deleted, then of the abandoned uploads aborted (`... (upload <id>)`). */
  removed: string[];
  /** Bytes of the blobs deleted. */
  removedBytes: number;
  /** Unreferenced blobs spared because they are younger than the grace period. */
  keptYoung: number;
}

/** Run names that have a snapshot manifest or a save record under the prefix, sorted. */
export async function listRemoteRuns(objects: S3Objects): Promise<string[]> {
  const runs = new Set<string>();
  for (const key of await objects.listKeys(runsPrefix(objects.target))) {
    const parsed = parseRecordKey(objects.target, key);
    if (parsed !== null && parsed.kind !== 'damaged') runs.add(parsed.run);
  }
  return [...runs].sort();
}

/**
 * Deletes every blob that no manifest of any run names and whose LastModified is more than
 * `graceMs` before `now`, and aborts the blob multipart uploads started more than `graceMs` before
 * `now`. Every object under `runs/*\/snapshots/` and `runs/*\/saves/` ending in `.json` counts as a
 * manifest (even one that is not a valid record: its sha256s are kept all the same); one that
 * cannot be read as JSON stops the collection before anything is deleted. `dryRun` lists only.
 */
export async function collectGarbage(objects: S3Objects, graceMs: number, now: number, opts: { dryRun?: boolean; signal?: AbortSignal } = {}): Promise<GarbageResult> {
  const { signal } = opts;
  const named = await namedBlobs(objects, signal);
  const cutoff = now - graceMs;
  const result: GarbageResult = { removed: [], removedBytes: 0, keptYoung: 0 };
  for (const blob of await objects.listBlobs(signal)) {
    if (named.has(blob.sha)) continue;
    if (blob.lastModified.getTime() >= cutoff) {
      result.keptYoung++;
      continue;
    }
    const key = blobKey(objects.target, blob.sha);
    if (opts.dryRun !== true) await objects.deleteKey(key, signal);
    result.removed.push(objectUrl(objects.target, key));
    result.removedBytes += blob.size;
  }
  const stale = opts.dryRun === true ? (await objects.listUploads(signal)).filter((u) => u.initiated.getTime() < cutoff) : await objects.abortStaleUploads(graceMs, now, signal);
  for (const u of stale) result.removed.push(`${objectUrl(objects.target, u.key)} (upload ${u.uploadId})`);
  return result;
}

/** Every sha256 named by a file entry of any manifest of any run. */
async function namedBlobs(objects: S3Objects, signal: AbortSignal | undefined): Promise<Set<string>> {
  const base = runsPrefix(objects.target);
  const manifests = (await objects.listKeys(base, signal)).filter((key) => /^[^/]+\/(snapshots|saves)\/[^/]+\.json$/.test(key.slice(base.length)));
  const named = new Set<string>();
  await mapPool(manifests, READ_PARALLEL, async (key: ObjectKey) => {
    let value: unknown;
    try {
      value = await objects.getJson(key, signal);
    } catch (err) {
      throw new Error(`garbage collection stopped before deleting anything: ${(err as Error).message}`, { cause: err });
    }
    const files = (value as { files?: unknown } | undefined)?.files;
    if (!Array.isArray(files)) return;
    for (const f of files as { sha256?: unknown }[]) if (typeof f?.sha256 === 'string' && isSha256(f.sha256)) named.add(f.sha256);
  });
  return named;
}
