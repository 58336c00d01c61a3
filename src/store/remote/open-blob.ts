/**
 * Reading one blob as a stream (to restore straight from the remote): paced, and checked as it
 * flows, so a consumer that reads to the end knows the bytes are the blob's.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { call, whereOf, type RemoteContext } from './remote-context.js';
import { BlobCorruptError } from './remote-errors.js';
import { blobKey } from './s3-target.js';

/**
 * The bytes of the blob `sha`. The request is retried until the answer starts; after that, a lost
 * connection is an error of the stream (not retried: use `downloadBlob` for that). The stream ends
 * normally only when the bytes hash to `sha`; otherwise it errors with `BlobCorruptError` instead
 * of ending, so a consumer must not trust what it read before 'end'.
 */
export async function openBlob(ctx: RemoteContext, sha: string, signal?: AbortSignal): Promise<Readable> {
  const { body, where } = await getBlob(ctx, sha, signal);
  async function* checked(): AsyncGenerator<Buffer> {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of body) {
      await ctx.download.take(chunk.length, signal);
      hash.update(chunk);
      bytes += chunk.length;
      yield chunk;
    }
    const actual = hash.digest('hex');
    if (actual !== sha) throw new BlobCorruptError(where, sha, actual, bytes);
  }
  return Readable.from(checked(), { objectMode: false });
}

/**
 * The bytes stored under the blob `sha`, paced but NOT checked against `sha`: for a caller that
 * hashes what it reads and compares it itself (`Store.copyFileOut`, whose caller does). Retried
 * and erroring as `openBlob`.
 */
export async function openBlobUnchecked(ctx: RemoteContext, sha: string, signal?: AbortSignal): Promise<Readable> {
  const { body } = await getBlob(ctx, sha, signal);
  async function* paced(): AsyncGenerator<Buffer> {
    for await (const chunk of body) {
      await ctx.download.take(chunk.length, signal);
      yield chunk;
    }
  }
  return Readable.from(paced(), { objectMode: false });
}

/** The GetObject answer's body for the blob `sha`, once it starts. */
async function getBlob(ctx: RemoteContext, sha: string, signal: AbortSignal | undefined): Promise<{ body: AsyncIterable<Buffer>; where: string }> {
  const key = blobKey(ctx.target, sha);
  const res = await call(ctx, 'GetObject', key, signal, (abortSignal) => ctx.client.send(new GetObjectCommand({ Bucket: ctx.target.bucket, Key: key }), { abortSignal }));
  return { body: res.Body as AsyncIterable<Buffer>, where: whereOf(ctx, key) };
}
