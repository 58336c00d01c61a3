/**
 * What the whole remote store (every run under the prefix) holds: its runs, and the garbage
 * collection of blobs no manifest names any more (as restic's prune). Blobs are shared by every
 * snapshot, run and machine, so the collection reads EVERY manifest under `runs/` before it deletes
 * anything, and spares blobs younger than a grace period: another machine's push in progress has
 * uploaded blobs whose manifest it has not written yet.
 *
 * A blob's age alone does not say when it was last relied on: a push that finds an old blob
 * already stored (unreferenced, or named by a manifest being deleted) does not send it, and a
 * collection on another machine that listed the manifests before that push's manifest landed
 * would take it. So, without a lock between machines:
 * - a push marks each blob it relies on without having just sent it (`markInUse`: the object
 *   `in-use/<sha>`, its LastModified the time) right before writing its manifest, and
 *   checks those blobs again after (`remote-upload.ts`);
 * - the collection counts a blob's age from its newest of upload and mark, and asks for the mark
 *   again right before deleting each blob, so a mark written since its listing spares the blob.
 * What is left: a collection that stalls between that last ask and its delete for as long as a
 * push takes to mark, write its manifest and check (three round trips against one). In one
 * process `ops/remote-turns.ts` keeps collections and pushes apart altogether.
 */
import { mapPool } from '../../util/run-pools.js';
import { READ_PARALLEL } from './remote-records.js';
import type { S3Objects } from './s3-objects.js';
import { blobKey, inUseKey, inUsePrefix, isSha256, objectUrl, parseRecordKey, runsPrefix, shaOfInUseKey, type ObjectKey } from './s3-target.js';

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

/** Marks written at once by `markInUse`. */
const MARK_PARALLEL = 4;

/**
 * Marks the blobs `shas` as relied on now (see the module comment): a collection spares each for
 * the grace period from now, even where no manifest names it yet. A push calls this right before
 * writing a manifest naming blobs it did not just upload.
 */
export async function markInUse(objects: S3Objects, shas: Iterable<string>, signal?: AbortSignal): Promise<void> {
  await mapPool([...new Set(shas)], MARK_PARALLEL, (sha) => objects.putJson(inUseKey(objects.target, sha), {}, signal));
}

/**
 * Deletes every blob that no manifest of any run names and whose newest of LastModified and
 * in-use mark is more than `graceMs` before `now` (the mark asked for again right before the
 * delete), with its mark; deletes marks older than that whose blob is gone; and aborts the blob
 * multipart uploads started more than `graceMs` before `now`. Every object under
 * `runs/*\/snapshots/` and `runs/*\/saves/` ending in `.json` counts as a manifest (even one that
 * is not a valid record: its sha256s are kept all the same); one that cannot be read as JSON stops
 * the collection before anything is deleted. `dryRun` lists only.
 */
export async function collectGarbage(objects: S3Objects, graceMs: number, now: number, opts: { dryRun?: boolean; signal?: AbortSignal } = {}): Promise<GarbageResult> {
  const { signal } = opts;
  const dryRun = opts.dryRun === true;
  const named = await namedBlobs(objects, signal);
  const cutoff = now - graceMs;
  const marks = await inUseMarks(objects, inUsePrefix(objects.target), signal);
  const result: GarbageResult = { removed: [], removedBytes: 0, keptYoung: 0 };
  const blobs = await objects.listBlobs(signal);
  for (const blob of blobs) {
    if (named.has(blob.sha)) continue;
    const young = (marked: Date | undefined): boolean => Math.max(blob.lastModified.getTime(), marked?.getTime() ?? 0) >= cutoff;
    // A push on another machine may have marked it since the listing: asked again, just before the delete.
    const markedSince = async (): Promise<boolean> => young((await inUseMarks(objects, inUseKey(objects.target, blob.sha), signal)).get(blob.sha));
    if (young(marks.get(blob.sha)) || (!dryRun && (await markedSince()))) {
      result.keptYoung++;
      continue;
    }
    const key = blobKey(objects.target, blob.sha);
    if (!dryRun) {
      await objects.deleteKey(key, signal);
      if (marks.has(blob.sha)) await objects.deleteKey(inUseKey(objects.target, blob.sha), signal);
    }
    result.removed.push(objectUrl(objects.target, key));
    result.removedBytes += blob.size;
  }
  const stored = new Set(blobs.map((b) => b.sha));
  for (const [sha, at] of marks) {
    if (dryRun || stored.has(sha) || at.getTime() >= cutoff) continue;
    // Asked again: a push may have marked it anew since (the blob it found then is young).
    const again = (await inUseMarks(objects, inUseKey(objects.target, sha), signal)).get(sha);
    if (again !== undefined && again.getTime() < cutoff) await objects.deleteKey(inUseKey(objects.target, sha), signal);
  }
  const stale = dryRun ? (await objects.listUploads(signal)).filter((u) => u.initiated.getTime() < cutoff) : await objects.abortStaleUploads(graceMs, now, signal);
  for (const u of stale) result.removed.push(`${objectUrl(objects.target, u.key)} (upload ${u.uploadId})`);
  return result;
}

/** The in-use marks under `prefix` (all of them, or the one mark whose key it is): when each blob was last marked. */
async function inUseMarks(objects: S3Objects, prefix: ObjectKey, signal: AbortSignal | undefined): Promise<Map<string, Date>> {
  const marks = new Map<string, Date>();
  for (const o of await objects.listObjects(prefix, signal)) {
    const sha = shaOfInUseKey(objects.target, o.key);
    if (sha !== null) marks.set(sha, o.lastModified);
  }
  return marks;
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
