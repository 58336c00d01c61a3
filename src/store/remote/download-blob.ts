/**
 * Downloading one blob into a local file: streamed to a temp name beside the destination, hashed
 * on the way, and put in place through the store's commit protocol only when its sha256 is the
 * blob's. A connection lost mid-way resumes with a Range request from the last byte written.
 */
import { createHash, randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { commitStaged } from '../durable.js';
import { withPath } from '../errors.js';
import { TEMP_PREFIX } from '../layout.js';
import { call, whereOf, type RemoteContext } from './remote-context.js';
import { BlobCorruptError, RemoteError } from './remote-errors.js';
import { blobKey } from './s3-target.js';

/** What `downloadBlob` reports and obeys. */
export interface DownloadBlobOptions {
  /** Bytes written so far and the blob's size (may restart from 0 if the server ignores Range). */
  onBytes?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Mode of the new file (default 0o644). */
  mode?: number;
}

/**
 * Writes the blob `sha` to `dest` (replacing what is there) and returns its size. `dest` appears
 * only complete, fsynced and verified; on any failure, a sha256 mismatch included
 * (`BlobCorruptError`), the temp file is removed and `dest` is left as it was.
 */
export async function downloadBlob(ctx: RemoteContext, sha: string, dest: string, opts: DownloadBlobOptions = {}): Promise<number> {
  const key = blobKey(ctx.target, sha);
  const tmp = path.join(path.dirname(dest), `${TEMP_PREFIX}${path.basename(dest)}-${randomBytes(4).toString('hex')}`);
  const fh = await fsp.open(tmp, 'wx', opts.mode ?? 0o644);
  let open = true;
  try {
    let hash = createHash('sha256');
    let written = 0;
    let total: number | null = null;
    await call(ctx, 'GetObject', key, opts.signal, async (abortSignal) => {
      const from = written;
      const res = await ctx.client.send(new GetObjectCommand({ Bucket: ctx.target.bucket, Key: key, ...(from > 0 ? { Range: `bytes=${from}-` } : {}) }), { abortSignal });
      if (from > 0 && !(res.ContentRange ?? '').startsWith(`bytes ${from}-`)) {
        // The server ignored the Range and sends the whole object again: start over.
        await fh.truncate(0);
        hash = createHash('sha256');
        written = 0;
      }
      total ??= sizeOf(res.ContentRange, res.ContentLength);
      for await (const chunk of res.Body as AsyncIterable<Buffer>) {
        await ctx.download.take(chunk.length, abortSignal);
        await fh.write(chunk, 0, chunk.length, written);
        hash.update(chunk);
        written += chunk.length;
        opts.onBytes?.(written, total ?? written);
      }
    });
    if (total !== null && written !== total) throw new Error(`GetObject ${whereOf(ctx, key)} ended after ${written} of ${total} bytes; try again`);
    const actual = hash.digest('hex');
    if (actual !== sha) throw new BlobCorruptError(whereOf(ctx, key), sha, actual, written);
    await fh.sync();
    open = false;
    await fh.close();
    await commitStaged(tmp, dest);
    return written;
  } catch (err) {
    if (open) await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    // The signal's reason and ckptd's own errors as they are; a file-system error names `dest`.
    if (opts.signal?.aborted === true) throw opts.signal.reason;
    const code = (err as NodeJS.ErrnoException | null)?.code;
    throw typeof code === 'string' && /^E[A-Z]+$/.test(code) && !(err instanceof RemoteError) ? withPath(err, 'writing', dest) : err;
  }
}

/** The object's whole size from `Content-Range: bytes a-b/size`, else the length of a whole-object answer. */
function sizeOf(contentRange: string | undefined, contentLength: number | undefined): number | null {
  const m = /\/(\d+)$/.exec(contentRange ?? '');
  if (m !== null) return Number(m[1]);
  return contentLength ?? null;
}
