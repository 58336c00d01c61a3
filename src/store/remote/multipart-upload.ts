/**
 * A large blob's multipart upload, resumable across calls and process restarts through the
 * `UploadState` the caller persists. Parts are read in order, each into memory, hashed, and sent
 * with its Content-MD5 (retries resend the same bytes), a few at a time. The whole content's sha256 is
 * checked before the last part is sent: when it is not the blob's, the upload is aborted and no
 * object ever appears under the key.
 */
import { createHash, type Hash } from 'node:crypto';
import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { FileChangedError } from '../errors.js';
import { pacedBody } from './bandwidth.js';
import type { BlobSource } from './blob-source.js';
import { contentMd5, objectSize } from './object-calls.js';
import { call, isNotFound, type RemoteContext } from './remote-context.js';
import type { ObjectKey } from './s3-target.js';
import { choosePartSize, completedParts, partCount, partRange, withPart, type UploadState } from './upload-state.js';

/** What a multipart upload reports and obeys (see `PutBlobOptions`). */
export interface MultipartOptions {
  resume: UploadState | null;
  onState: (state: UploadState | null) => void | Promise<void>;
  onBytes: (done: number, total: number) => void;
  signal: AbortSignal | undefined;
}

/** Bytes sent by this call, and parts of an earlier call that were checked and kept. */
export interface MultipartOutcome {
  sentBytes: number;
  reusedParts: number;
}

/**
 * Uploads `src` as the blob `sha` at `key` by multipart, resuming `opts.resume` when given. Reports
 * every new state through `opts.onState` (awaited, so it is persisted before the next part goes)
 * and null once the object exists or the upload was abandoned because the file changed. When the
 * resumed upload no longer exists on the server (aborted as stale, expired), starts a new one once.
 * On an abort or a failure that outlived its retries, the last reported state stays valid.
 */
export async function uploadMultipart(ctx: RemoteContext, src: BlobSource, sha: string, key: ObjectKey, opts: MultipartOptions): Promise<MultipartOutcome> {
  let state = opts.resume ?? (await startUpload(ctx, key, sha, src.size, opts));
  // A resumed upload may be gone from the server; a new one is started then, but only once.
  let fresh = opts.resume === null;
  for (;;) {
    try {
      const outcome = await sendParts(ctx, src, sha, state, opts);
      await completeUpload(ctx, outcome.state, opts.signal);
      await opts.onState(null);
      return { sentBytes: outcome.sentBytes, reusedParts: outcome.reusedParts };
    } catch (err) {
      if (fresh || !isNotFound(err)) throw err;
      fresh = true;
      state = await startUpload(ctx, key, sha, src.size, opts);
    }
  }
}

async function startUpload(ctx: RemoteContext, key: ObjectKey, sha: string, size: number, opts: MultipartOptions): Promise<UploadState> {
  const res = await call(ctx, 'CreateMultipartUpload', key, opts.signal, (abortSignal) =>
    ctx.client.send(new CreateMultipartUploadCommand({ Bucket: ctx.target.bucket, Key: key, ContentType: 'application/octet-stream' }), { abortSignal }),
  );
  if (res.UploadId === undefined) throw new Error(`CreateMultipartUpload s3://${ctx.target.bucket}/${key} answered no UploadId; the object store is not S3-compatible enough`);
  const state: UploadState = { key, sha, size, partSize: choosePartSize(size, ctx.partSize), uploadId: res.UploadId, parts: [] };
  await opts.onState(state);
  return state;
}

/** Parts of one blob in flight at once by default (each held in memory: at most this many part sizes). */
export const PART_PARALLEL = 4;

/**
 * Reads every part in order, hashing as it goes, and sends up to `ctx.partParallel` at once; resends a
 * part unless the state records it with the same sha256; checks the whole sha256 once every other
 * part is done and before the last one goes. Each acknowledged part is reported (`onState`, in
 * order, each state holding every part acknowledged before it). Returns the state with every part.
 * On any failure the parts in flight are awaited (their states reported) before it is thrown; when
 * the file changed, the upload is abandoned after them.
 */
async function sendParts(ctx: RemoteContext, src: BlobSource, sha: string, start: UploadState, opts: MultipartOptions): Promise<MultipartOutcome & { state: UploadState }> {
  const whole = createHash('sha256');
  const count = partCount(start.size, start.partSize);
  let state = start;
  let sentBytes = 0;
  let reusedParts = 0;
  let done = 0;
  let failure: { err: unknown } | null = null;
  let reported: Promise<void> = Promise.resolve();
  const inflight = new Set<Promise<void>>();
  const drain = async (): Promise<void> => {
    while (inflight.size > 0) await Promise.all(inflight);
    await reported;
  };
  const progress = (length: number): void => {
    done += length;
    opts.onBytes(done, state.size);
  };
  try {
    for (let number = 1; number <= count && failure === null; number++) {
      opts.signal?.throwIfAborted();
      const { position, length } = partRange(state.size, state.partSize, number);
      // A free slot first: at most `partParallel` parts are held in memory, and with one a part is
      // read only once the one before it is acknowledged (and its state persisted).
      while (inflight.size >= ctx.partParallel) await Promise.race(inflight);
      if (failure !== null) break;
      const data = await src.read(position, length);
      whole.update(data);
      if (number === count) {
        await drain();
        if (failure !== null) break;
        checkWhole(src, sha, whole);
      }
      const partSha = createHash('sha256').update(data).digest('hex');
      const known = state.parts.find((p) => p.number === number);
      if (known !== undefined && known.sha256 === partSha && known.size === length) {
        reusedParts++;
        progress(length);
        continue;
      }
      const sending: Promise<void> = uploadPart(ctx, state, number, data, opts.signal)
        .then((etag) => {
          state = withPart(state, { number, etag, sha256: partSha, size: length });
          const snapshot = state;
          reported = reported.then(() => opts.onState(snapshot));
          sentBytes += length;
          progress(length);
          return reported;
        })
        .catch((err: unknown) => {
          failure ??= { err };
        })
        .finally(() => inflight.delete(sending));
      inflight.add(sending);
    }
    await drain();
  } catch (err) {
    await drain();
    if (err instanceof FileChangedError) await abandon(ctx, state, opts);
    throw err;
  }
  if (failure !== null) throw (failure as { err: unknown }).err;
  return { state, sentBytes, reusedParts };
}

/** Throws `FileChangedError` when the bytes read do not hash to `sha` (the caller abandons the upload). */
function checkWhole(src: BlobSource, sha: string, whole: Hash): void {
  const actual = whole.digest('hex');
  if (actual !== sha) throw new FileChangedError(src.path, [`sha256 ${sha} -> ${actual}`]);
}

async function uploadPart(ctx: RemoteContext, state: UploadState, number: number, data: Buffer, signal: AbortSignal | undefined): Promise<string> {
  const md5 = contentMd5(data);
  const res = await call(ctx, 'UploadPart', state.key, signal, (abortSignal) =>
    ctx.client.send(
      new UploadPartCommand({
        Bucket: ctx.target.bucket,
        Key: state.key,
        UploadId: state.uploadId,
        PartNumber: number,
        Body: pacedBody(data, ctx.upload, abortSignal),
        ContentLength: data.length,
        ContentMD5: md5,
      }),
      { abortSignal },
    ),
  );
  if (res.ETag === undefined) throw new Error(`UploadPart ${number} of s3://${ctx.target.bucket}/${state.key} answered no ETag; the object store is not S3-compatible enough`);
  return res.ETag;
}

/**
 * Completes the upload. When the upload is gone but the object is there with the blob's size, an
 * earlier try completed it and only its answer was lost: done.
 */
async function completeUpload(ctx: RemoteContext, state: UploadState, signal: AbortSignal | undefined): Promise<void> {
  const parts = completedParts(state);
  if (parts === null) throw new Error(`the upload of ${state.key} is missing parts; this is a bug in ckptd`);
  try {
    await call(ctx, 'CompleteMultipartUpload', state.key, signal, (abortSignal) =>
      ctx.client.send(
        new CompleteMultipartUploadCommand({ Bucket: ctx.target.bucket, Key: state.key, UploadId: state.uploadId, MultipartUpload: { Parts: parts } }),
        { abortSignal },
      ),
    );
  } catch (err) {
    if (isNotFound(err) && (await objectSize(ctx, state.key as ObjectKey, signal)) === state.size) return;
    throw err;
  }
}

/** Aborts `state`'s upload so its parts are freed; an upload already gone is fine. */
export async function abortUpload(ctx: RemoteContext, state: Pick<UploadState, 'key' | 'uploadId'>, signal?: AbortSignal): Promise<void> {
  try {
    await call(ctx, 'AbortMultipartUpload', state.key, signal, (abortSignal) =>
      ctx.client.send(new AbortMultipartUploadCommand({ Bucket: ctx.target.bucket, Key: state.key, UploadId: state.uploadId }), { abortSignal }),
    );
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/**
 * Gives up an upload whose source no longer holds the blob: aborts it and reports the state gone.
 * The abort is best effort (the caller reports the change, not a failed abort); a leftover upload
 * is removed by `abortStaleUploads` later.
 */
async function abandon(ctx: RemoteContext, state: UploadState, opts: MultipartOptions): Promise<void> {
  await abortUpload(ctx, state).catch(() => undefined);
  await opts.onState(null);
}
