/**
 * Reading the files of a remote record: a regular file is the blob its manifest entry names, a
 * symlink lives in the manifest only (its `target`). For `Store.openFile`, `copyFileOut`,
 * `readLink`, `verify` (download and hash: `verify --remote --read-data`) and `verifyExists`
 * (HEAD only: `verify --remote`).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { withPath } from '../errors.js';
import { isValidId } from '../ids.js';
import { isSafeRelPath } from '../layout.js';
import type { ManifestEntry, RecordMeta } from '../types.js';
import type { ChangedFile, OnBytes, VerifyResult } from '../verify-snapshot.js';
import { printableName } from '../../util/format.js';
import { mapPool } from '../../util/run-pools.js';
import type { RemoteRun } from './remote-records.js';
import { BlobCorruptError } from './remote-errors.js';

/** Blobs checked at once by the verifiers. */
const VERIFY_PARALLEL = 4;

/** The manifest entry of `relPath`; throws `holds no file` when the record has none. */
function entryOf(record: RecordMeta, relPath: string): ManifestEntry {
  if (!isValidId(record.id)) throw new Error(`invalid id ${JSON.stringify(record.id)}`);
  const entry = record.files.find((f) => f.path === relPath);
  if (entry === undefined || !isSafeRelPath(relPath)) throw new Error(`${record.kind} ${record.id} holds no file ${JSON.stringify(relPath)}`);
  return entry;
}

/** The entry of the regular file `relPath`; throws for a symlink. */
function fileEntry(record: RecordMeta, relPath: string): ManifestEntry {
  const entry = entryOf(record, relPath);
  if (entry.type === 'symlink') throw new Error(`${relPath} of ${record.kind} ${record.id} is a symlink to ${JSON.stringify(entry.target)}, not a file`);
  return entry;
}

/** Throws the "damaged: missing" error when the blob of `entry` is not stored. */
async function assertStored(r: RemoteRun, record: RecordMeta, entry: ManifestEntry): Promise<void> {
  if ((await r.objects.blobSize(entry.sha256)) === null) {
    throw new Error(`${record.kind} ${record.id} is damaged: the object of ${entry.path} is missing from ${r.location}. Run \`ckptd verify ${record.id} --remote\``);
  }
}

/** `Store.openFile`: the blob's bytes, a stream that errors (instead of ending) when they do not hash to the entry's sha256. */
export async function openRemoteFile(r: RemoteRun, record: RecordMeta, relPath: string): Promise<Readable> {
  const entry = fileEntry(record, relPath);
  await assertStored(r, record, entry);
  return r.objects.openBlob(entry.sha256);
}

/**
 * `Store.copyFileOut`: the stored bytes to the NEW file `dest` (O_EXCL, O_NOFOLLOW) with `mode`,
 * hashed on the way and fsynced; the sha256 and size of what was written. A blob whose bytes do not
 * hash to its key is copied as it is (the caller compares the hash).
 */
export async function copyRemoteFile(
  r: RemoteRun,
  record: RecordMeta,
  relPath: string,
  dest: string,
  opts: { mode: number; onBytes?: (n: number) => void },
): Promise<{ sha256: string; size: number }> {
  const entry = fileEntry(record, relPath);
  await assertStored(r, record, entry);
  const body = await r.objects.openBlobUnchecked(entry.sha256);
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
  const fh = await fsp.open(dest, flags, opts.mode).catch((err: unknown) => {
    body.destroy();
    throw withPath(err, 'writing', dest);
  });
  try {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      await fh.write(chunk, 0, chunk.length, size);
      hash.update(chunk);
      size += chunk.length;
      opts.onBytes?.(chunk.length);
    }
    // The umask may have narrowed the mode open() applied.
    await fh.chmod(opts.mode);
    await fh.sync();
    return { sha256: hash.digest('hex'), size };
  } catch (err) {
    body.destroy();
    throw withPath(err, 'writing', dest);
  } finally {
    await fh.close();
  }
}

/** `Store.readLink`: the target the manifest records for the symlink `relPath`. */
export function readRemoteLink(record: RecordMeta, relPath: string): string {
  const entry = entryOf(record, relPath);
  if (entry.type !== 'symlink' || entry.target === undefined) throw new Error(`${relPath} of ${record.kind} ${record.id} is not a symlink`);
  return entry.target;
}

/**
 * `Store.verify` (`--read-data`): every blob downloaded and hashed against its entry: `missing`
 * when there is no object, `changed` when its size or sha256 differs; a symlink's sha256 must be
 * that of its target. A remote record has no `extra` files. Throws when the object store fails;
 * a blob whose download fails says which file it was and that nothing was marked.
 */
export async function verifyRemoteData(r: RemoteRun, record: RecordMeta, onBytes?: OnBytes): Promise<VerifyResult> {
  return verifyEntries(record, async (entry, result) => {
    const stored = await r.objects.blobSize(entry.sha256);
    // Bytes not read (no object, wrong size) count as done, as a local verification counts them.
    if (stored === null || stored !== entry.size) onBytes?.(entry.size);
    if (stored === null) return 'missing';
    if (stored !== entry.size) return { path: entry.path, reason: `size ${stored}, manifest says ${entry.size}` };
    const actual = await hashBlob(r, entry.sha256, onBytes, (err) => downloadCut(r, record, entry, err));
    result.bytesHashed += entry.size;
    return actual === entry.sha256 ? null : { path: entry.path, reason: 'sha256 differs' };
  });
}

/**
 * The error for a download `verifyRemoteData` started but could not finish (the connection cut
 * mid-object): what was being read, where, and that no verdict (no damaged mark) came of it.
 */
function downloadCut(r: RemoteRun, record: RecordMeta, entry: ManifestEntry, err: unknown): Error {
  const why = (err as Error).message;
  return new Error(
    `the download of ${printableName(entry.path)} from ${r.location} was interrupted (${why}); nothing was marked: ` +
      `run \`ckptd verify ${record.id} --remote --read-data\` again`,
    { cause: err },
  );
}

/** `RemoteStore.verifyExists` (`verify --remote`): each blob is there with its size (a HEAD each). */
export async function verifyRemoteExists(r: RemoteRun, record: RecordMeta): Promise<VerifyResult> {
  return verifyEntries(record, async (entry) => {
    const stored = await r.objects.blobSize(entry.sha256);
    if (stored === null) return 'missing';
    return stored === entry.size ? null : { path: entry.path, reason: `size ${stored}, manifest says ${entry.size}` };
  });
}

/** What checking one regular file found: nothing wrong (null), no object, or how it differs. */
type EntryVerdict = null | 'missing' | ChangedFile;

async function verifyEntries(record: RecordMeta, check: (entry: ManifestEntry, result: VerifyResult) => Promise<EntryVerdict>): Promise<VerifyResult> {
  if (!isValidId(record.id)) throw new Error(`refusing to verify ${JSON.stringify(record.id)}: not a valid id`);
  const result: VerifyResult = { id: record.id, kind: record.kind, ok: false, missing: [], changed: [], extra: [], files: record.files.length, bytesHashed: 0 };
  await mapPool(record.files, VERIFY_PARALLEL, async (entry) => {
    if (entry.type === 'symlink') {
      const sha = createHash('sha256').update(entry.target ?? '').digest('hex');
      if (sha !== entry.sha256) result.changed.push({ path: entry.path, reason: 'symlink target does not hash to its sha256' });
      return;
    }
    const verdict = await check(entry, result);
    if (verdict === 'missing') result.missing.push(entry.path);
    else if (verdict !== null) result.changed.push(verdict);
  });
  result.missing.sort();
  result.changed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  result.ok = result.missing.length === 0 && result.changed.length === 0;
  return result;
}

/**
 * The sha256 of the bytes stored under blob `sha` (its actual hash when they are damaged). An
 * error once the bytes have started to flow is thrown as `cut(err)`.
 */
async function hashBlob(r: RemoteRun, sha: string, onBytes: OnBytes | undefined, cut: (err: unknown) => Error): Promise<string> {
  const hash = createHash('sha256');
  const stream = (await r.objects.openBlob(sha)) as AsyncIterable<Buffer>;
  try {
    for await (const chunk of stream) {
      hash.update(chunk);
      onBytes?.(chunk.length);
    }
  } catch (err) {
    if (err instanceof BlobCorruptError) return err.actual;
    throw cut(err);
  }
  return hash.digest('hex');
}
