/**
 * What every remote operation shares (client, target, retry policy, pacers, sizes) and the one
 * way a call is sent: built anew for each try, retried by `withRetries`, a final failure wrapped
 * into a `RemoteError` naming the object.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Pacer } from './bandwidth.js';
import { remoteError, RemoteError } from './remote-errors.js';
import { withRetries, type RetryEvent, type RetryPolicy } from './retry.js';
import type { S3Target } from './s3-target.js';

/** A retry about to happen, with the operation and object it is about. */
export interface RemoteRetryEvent extends RetryEvent {
  op: string;
  where: string;
}

export interface RemoteContext {
  client: S3Client;
  target: S3Target;
  retry: RetryPolicy;
  onRetry: ((e: RemoteRetryEvent) => void) | null;
  /** Paces request bodies (uploads). */
  upload: Pacer;
  /** Paces response bodies (downloads). */
  download: Pacer;
  /** The part size of new multipart uploads (a resumed one keeps its own). */
  partSize: number;
  /** Parts of one multipart upload in flight at once. */
  partParallel: number;
  /** Keys asked for per listing page. */
  pageSize: number;
}

/** `s3://bucket/key`, for messages. */
export function whereOf(ctx: RemoteContext, key: string): string {
  return `s3://${ctx.target.bucket}/${key}`;
}

/**
 * Runs `send` (one S3 call; it must build its command and any body stream anew each time it is
 * called) with retries. Throws the signal's reason when aborted, else a `RemoteError` naming `op`,
 * the object and the fix.
 */
export async function call<T>(ctx: RemoteContext, op: string, key: string, signal: AbortSignal | undefined, send: (abortSignal?: AbortSignal) => Promise<T>): Promise<T> {
  const where = whereOf(ctx, key);
  let tries = 0;
  const onRetry = ctx.onRetry === null ? undefined : (e: RetryEvent) => ctx.onRetry!({ ...e, op, where });
  try {
    return await withRetries(
      (attempt) => {
        tries = attempt + 1;
        return send(signal);
      },
      ctx.retry,
      signal,
      onRetry,
    );
  } catch (err) {
    throw remoteError(op, where, tries, err);
  }
}

/** True when `err` says the object (or upload) is not there: 404, NoSuchKey, NotFound, NoSuchUpload. */
export function isNotFound(err: unknown): boolean {
  if (!(err instanceof RemoteError)) return false;
  return err.status === 404 || err.code === 'NoSuchKey' || err.code === 'NotFound' || err.code === 'NoSuchUpload';
}
