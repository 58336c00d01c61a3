/**
 * The small object calls: whether a blob is there, JSON objects (manifests), listings and
 * deletion. Each is one retried S3 call (a listing one per page).
 */
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { call, isNotFound, whereOf, type RemoteContext } from './remote-context.js';
import { blobKey, blobsPrefix, shaOfBlobKey, type ObjectKey } from './s3-target.js';

/** One listed object. */
export interface ListedObject {
  key: ObjectKey;
  size: number;
  lastModified: Date;
  /** The ETag S3 listed (changes whenever the object is replaced by other content); '' when none was given. */
  etag: string;
}

/** One listed blob (for a garbage collection that spares blobs younger than its grace period). */
export interface ListedBlob {
  sha: string;
  size: number;
  lastModified: Date;
}

/** The size of the object at `key`, or null when there is none. */
export async function objectSize(ctx: RemoteContext, key: ObjectKey, signal?: AbortSignal): Promise<number | null> {
  try {
    const head = await call(ctx, 'HeadObject', key, signal, (abortSignal) => ctx.client.send(new HeadObjectCommand({ Bucket: ctx.target.bucket, Key: key }), { abortSignal }));
    return head.ContentLength ?? null;
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** The size of the blob `sha` as stored, or null when there is none (a HEAD; the content is not read). */
export function blobSize(ctx: RemoteContext, sha: string, signal?: AbortSignal): Promise<number | null> {
  return objectSize(ctx, blobKey(ctx.target, sha), signal);
}

/** True when the blob `sha` is stored with exactly `size` bytes (a HEAD; the content is not read). */
export async function hasBlob(ctx: RemoteContext, sha: string, size: number, signal?: AbortSignal): Promise<boolean> {
  return (await objectSize(ctx, blobKey(ctx.target, sha), signal)) === size;
}

/** The base64 MD5 S3 checks an upload's body against (a body damaged on the way is refused). */
export function contentMd5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('base64');
}

/** Stores `value` as JSON at `key`, replacing what is there (one PUT: readers see old or new, never a mix). */
export async function putJson(ctx: RemoteContext, key: ObjectKey, value: unknown, signal?: AbortSignal): Promise<void> {
  const body = Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
  await call(ctx, 'PutObject', key, signal, (abortSignal) =>
    ctx.client.send(
      new PutObjectCommand({ Bucket: ctx.target.bucket, Key: key, Body: body, ContentLength: body.length, ContentMD5: contentMd5(body), ContentType: 'application/json' }),
      { abortSignal },
    ),
  );
}

/** The parsed JSON object at `key`, or undefined when there is none. Throws when it is not JSON. */
export async function getJson(ctx: RemoteContext, key: ObjectKey, signal?: AbortSignal): Promise<unknown> {
  let text: string;
  try {
    text = await call(ctx, 'GetObject', key, signal, async (abortSignal) => {
      const res = await ctx.client.send(new GetObjectCommand({ Bucket: ctx.target.bucket, Key: key }), { abortSignal });
      // Read inside the retried call: a connection lost mid-body is retried like one lost before.
      return res.Body!.transformToString('utf8');
    });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`${whereOf(ctx, key)} is not valid JSON (${(err as Error).message}); delete it or push the snapshot again`, { cause: err });
  }
}

/** Every object whose key starts with `prefix`, in key order, page by page. */
export async function listObjects(ctx: RemoteContext, prefix: ObjectKey, signal?: AbortSignal): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  let token: string | undefined;
  do {
    const page = await call(ctx, 'ListObjectsV2', prefix, signal, (abortSignal) =>
      ctx.client.send(new ListObjectsV2Command({ Bucket: ctx.target.bucket, Prefix: prefix, MaxKeys: ctx.pageSize, ContinuationToken: token }), { abortSignal }),
    );
    for (const o of page.Contents ?? []) {
      if (o.Key === undefined) continue;
      out.push({ key: o.Key as ObjectKey, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0), etag: o.ETag ?? '' });
    }
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return out;
}

/** The keys of every object under `prefix`, in key order. */
export async function listKeys(ctx: RemoteContext, prefix: ObjectKey, signal?: AbortSignal): Promise<ObjectKey[]> {
  return (await listObjects(ctx, prefix, signal)).map((o) => o.key);
}

/** Every blob (objects under `blobs/sha256/` whose key is exactly a blob key; others are not ours and left out). */
export async function listBlobs(ctx: RemoteContext, signal?: AbortSignal): Promise<ListedBlob[]> {
  return (await listObjects(ctx, blobsPrefix(ctx.target), signal)).flatMap((o) => {
    const sha = shaOfBlobKey(ctx.target, o.key);
    return sha === null ? [] : [{ sha, size: o.size, lastModified: o.lastModified }];
  });
}

/** Deletes the object at `key`; no object there is not an error. */
export async function deleteKey(ctx: RemoteContext, key: ObjectKey, signal?: AbortSignal): Promise<void> {
  await call(ctx, 'DeleteObject', key, signal, (abortSignal) => ctx.client.send(new DeleteObjectCommand({ Bucket: ctx.target.bucket, Key: key }), { abortSignal }));
}
