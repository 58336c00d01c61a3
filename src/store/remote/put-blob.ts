/**
 * Uploading one blob: nothing when it is already stored, one PUT for a small file, a resumable
 * multipart upload for a large one. In every case the bytes sent are checked to hash to the blob's
 * sha256 before the object can come into being, so no key ever holds content that is not its own.
 */
import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { FileChangedError } from '../errors.js';
import { pacedBody } from './bandwidth.js';
import { openBlobSource, type BlobSource } from './blob-source.js';
import { abortUpload, uploadMultipart } from './multipart-upload.js';
import { contentMd5, hasBlob } from './object-calls.js';
import { call, type RemoteContext } from './remote-context.js';
import { blobKey, type ObjectKey } from './s3-target.js';
import { isUploadState, type UploadState } from './upload-state.js';

/** What `putBlob` reports and obeys. */
export interface PutBlobOptions {
  /** Bytes of the blob done so far (after each acknowledged or reused part) and its size. */
  onBytes?: (done: number, total: number) => void;
  /** Stops the upload at once; a multipart upload's last reported state stays resumable. */
  signal?: AbortSignal;
  /** The last state `onState` reported for this blob (persisted by the caller), to resume from. */
  resume?: UploadState | null;
  /**
   * Called, and awaited, with every new resume state: after the multipart upload is created and
   * after each part is acknowledged, so the caller can persist it before the next part goes; null
   * once the blob is stored or the upload was abandoned (the caller deletes what it kept).
   */
  onState?: (state: UploadState | null) => void | Promise<void>;
}

/** What `putBlob` did: found the blob already stored, or uploaded it. */
export interface PutBlobResult {
  outcome: 'present' | 'uploaded';
  /** Bytes sent by this call (parts finished before a resume are not sent again). */
  sentBytes: number;
  /** Parts of a resumed upload that were checked against the file and kept. */
  reusedParts: number;
}

/**
 * Makes the blob `sha` (`size` bytes, read from `file`) exist in the remote store. Skips the
 * upload when an object of that size is already at the blob's key (a leftover resume state is then
 * aborted and reported null). Files up to the part size go in one PUT, larger ones by multipart.
 * Throws `FileChangedError` when `file` does not hold exactly that content, before anything is
 * stored under the key; `RemoteError` when the object store keeps failing; the signal's reason
 * when aborted.
 */
export async function putBlob(ctx: RemoteContext, sha: string, size: number, file: string, opts: PutBlobOptions = {}): Promise<PutBlobResult> {
  const key = blobKey(ctx.target, sha);
  const resume = opts.resume ?? null;
  const onState = opts.onState ?? (() => undefined);
  if (resume !== null && !isUploadState(resume)) throw new Error('the resume state given to putBlob is malformed; pass the state onState reported, or null to start over');
  if (resume !== null && (resume.key !== key || resume.sha !== sha || resume.size !== size)) {
    throw new Error(`the resume state given for blob ${sha} (${size} bytes) is the upload of ${resume.key} (${resume.size} bytes); pass the state reported for this blob`);
  }
  if (await hasBlob(ctx, sha, size, opts.signal)) {
    if (resume !== null) {
      await abortUpload(ctx, resume, opts.signal);
      await onState(null);
    }
    opts.onBytes?.(size, size);
    return { outcome: 'present', sentBytes: 0, reusedParts: 0 };
  }
  const src = await openBlobSource(file, size);
  try {
    if (resume === null && size <= ctx.partSize) {
      await putSmall(ctx, src, sha, key, opts.signal);
      opts.onBytes?.(size, size);
      return { outcome: 'uploaded', sentBytes: size, reusedParts: 0 };
    }
    const done = await uploadMultipart(ctx, src, sha, key, { resume, onState, onBytes: opts.onBytes ?? (() => undefined), signal: opts.signal });
    return { outcome: 'uploaded', ...done };
  } finally {
    await src.close();
  }
}

/** One PUT of the whole file, read and hashed first: nothing is sent unless it hashes to `sha`. */
async function putSmall(ctx: RemoteContext, src: BlobSource, sha: string, key: ObjectKey, signal: AbortSignal | undefined): Promise<void> {
  const data = await src.read(0, src.size);
  const actual = createHash('sha256').update(data).digest('hex');
  if (actual !== sha) throw new FileChangedError(src.path, [`sha256 ${sha} -> ${actual}`]);
  const md5 = contentMd5(data);
  await call(ctx, 'PutObject', key, signal, (abortSignal) =>
    ctx.client.send(
      new PutObjectCommand({
        Bucket: ctx.target.bucket,
        Key: key,
        Body: pacedBody(data, ctx.upload, abortSignal),
        ContentLength: data.length,
        ContentMD5: md5,
        ContentType: 'application/octet-stream',
      }),
      { abortSignal },
    ),
  );
}
