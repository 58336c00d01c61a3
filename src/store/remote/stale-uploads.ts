/**
 * Multipart uploads nobody will finish (a push that was killed and whose resume state was lost, a
 * blob given up): their parts cost storage until aborted. S3 never aborts them by itself unless a
 * lifecycle rule says so.
 */
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { abortUpload } from './multipart-upload.js';
import { call, type RemoteContext } from './remote-context.js';
import { blobsPrefix } from './s3-target.js';

/** An upload under the blobs prefix. */
export interface PendingUpload {
  key: string;
  uploadId: string;
  initiated: Date;
}

/** Every multipart upload in progress under the blobs prefix, page by page. */
export async function listUploads(ctx: RemoteContext, signal?: AbortSignal): Promise<PendingUpload[]> {
  const prefix = blobsPrefix(ctx.target);
  const out: PendingUpload[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await call(ctx, 'ListMultipartUploads', prefix, signal, (abortSignal) =>
      ctx.client.send(
        new ListMultipartUploadsCommand({ Bucket: ctx.target.bucket, Prefix: prefix, MaxUploads: ctx.pageSize, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        { abortSignal },
      ),
    );
    for (const u of page.Uploads ?? []) {
      if (u.Key === undefined || u.UploadId === undefined) continue;
      out.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated ?? new Date(0) });
    }
    if (page.IsTruncated !== true) return out;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}

/**
 * Aborts every upload under the blobs prefix started more than `olderThanMs` before `now` (ms since
 * the epoch) and returns them. An upload whose resume state a caller still holds is resumed by
 * starting over, so `olderThanMs` should exceed the longest a push may pause (a day, say).
 */
export async function abortStaleUploads(ctx: RemoteContext, olderThanMs: number, now: number, signal?: AbortSignal): Promise<PendingUpload[]> {
  const stale = (await listUploads(ctx, signal)).filter((u) => u.initiated.getTime() < now - olderThanMs);
  for (const u of stale) await abortUpload(ctx, { key: u.key, uploadId: u.uploadId }, signal);
  return stale;
}
