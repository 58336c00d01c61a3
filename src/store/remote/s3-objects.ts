/**
 * The object layer of the remote store (SPEC section 8): a narrow API over one bucket and prefix,
 * in terms of blobs (content by sha256) and JSON objects. Every call is retried on network errors,
 * timeouts, 5xx and throttling (not on other 4xx), stops promptly when its AbortSignal fires, and
 * fails with a `RemoteError` that names the object and the fix. Transfers obey the target's
 * bandwidth limit. Credentials come only from the AWS SDK's default chain.
 */
import type { Readable } from 'node:stream';
import { bandwidthPacer, type PacerClock } from './bandwidth.js';
import { downloadBlob, type DownloadBlobOptions } from './download-blob.js';
import { abortUpload, PART_PARALLEL } from './multipart-upload.js';
import { blobSize, deleteKey, getJson, hasBlob, listBlobs, listKeys, listObjects, putJson, type ListedBlob, type ListedObject } from './object-calls.js';
import { openBlob, openBlobUnchecked } from './open-blob.js';
import { putBlob, type PutBlobOptions, type PutBlobResult } from './put-blob.js';
import type { RemoteContext, RemoteRetryEvent } from './remote-context.js';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
import { DEFAULT_TIMEOUTS, makeS3Client, type ClientTimeouts } from './s3-client.js';
import type { ObjectKey, S3Target } from './s3-target.js';
import { abortStaleUploads, listUploads, type PendingUpload } from './stale-uploads.js';
import { DEFAULT_PART_SIZE, MIN_PART_SIZE, type UploadState } from './upload-state.js';

/** The object API of one remote target. */
export interface S3Objects {
  readonly target: S3Target;
  /** True when the blob `sha` is stored with exactly `size` bytes (one HEAD). */
  hasBlob(sha: string, size: number, signal?: AbortSignal): Promise<boolean>;
  /** The stored size of the blob `sha`, or null when there is no such object (one HEAD). */
  blobSize(sha: string, signal?: AbortSignal): Promise<number | null>;
  /** Stores the blob `sha` from `file` unless present; resumable, verified (see `putBlob`). */
  putBlob(sha: string, size: number, file: string, opts?: PutBlobOptions): Promise<PutBlobResult>;
  /** Writes the blob `sha` to `dest`, verified, atomically; returns its size (see `downloadBlob`). */
  downloadBlob(sha: string, dest: string, opts?: DownloadBlobOptions): Promise<number>;
  /** The blob's bytes as a stream that errors instead of ending when they do not hash to `sha`. */
  openBlob(sha: string, signal?: AbortSignal): Promise<Readable>;
  /** The bytes stored under the blob `sha`, not checked against it (the caller hashes and compares). */
  openBlobUnchecked(sha: string, signal?: AbortSignal): Promise<Readable>;
  /** Stores `value` as JSON at `key` (one PUT, replacing). */
  putJson(key: ObjectKey, value: unknown, signal?: AbortSignal): Promise<void>;
  /** The JSON at `key`, or undefined when there is no object. */
  getJson(key: ObjectKey, signal?: AbortSignal): Promise<unknown>;
  /** Keys under `prefix`, every page, in key order. */
  listKeys(prefix: ObjectKey, signal?: AbortSignal): Promise<ObjectKey[]>;
  /** Objects under `prefix` with size and LastModified, every page, in key order. */
  listObjects(prefix: ObjectKey, signal?: AbortSignal): Promise<ListedObject[]>;
  /** Every blob with its size and LastModified (for a garbage collection with a grace period). */
  listBlobs(signal?: AbortSignal): Promise<ListedBlob[]>;
  /** Deletes `key`; a missing object is fine. */
  deleteKey(key: ObjectKey, signal?: AbortSignal): Promise<void>;
  /** Aborts the upload of a resume state the caller gives up (an upload already gone is fine). */
  abortUpload(state: UploadState, signal?: AbortSignal): Promise<void>;
  /** Every blob multipart upload in progress (nothing is aborted). */
  listUploads(signal?: AbortSignal): Promise<PendingUpload[]>;
  /** Aborts blob uploads started more than `olderThanMs` before `now`; returns them. */
  abortStaleUploads(olderThanMs: number, now: number, signal?: AbortSignal): Promise<PendingUpload[]>;
  /** Closes the connections. */
  close(): void;
}

/** Tuning, mostly for tests; every key has a production default. */
export interface S3ObjectsOptions {
  retry?: Partial<RetryPolicy>;
  onRetry?: (e: RemoteRetryEvent) => void;
  timeouts?: Partial<ClientTimeouts>;
  /** Part size of new multipart uploads (at least 5 MiB; default 16 MiB); also the largest single PUT. */
  partSize?: number;
  /** Parts of one blob sent at once (default 4; 1 sends them one after another). */
  partParallel?: number;
  /** Keys per listing page (default 1000, S3's most). */
  pageSize?: number;
  /** The pacers' clock (default: the real one). */
  clock?: PacerClock;
  /**
   * Ends every call made without a signal of its own when it fires (a daemon's remote, on stop):
   * its retries stop at once instead of being waited out.
   */
  signal?: AbortSignal;
}

/** The object API for `target`, with a client of its own. */
export function openS3Objects(target: S3Target, options: S3ObjectsOptions = {}): S3Objects {
  const ctx: RemoteContext = {
    client: makeS3Client(target, { ...DEFAULT_TIMEOUTS, ...options.timeouts }),
    target,
    retry: { ...DEFAULT_RETRY, ...options.retry },
    onRetry: options.onRetry ?? null,
    upload: bandwidthPacer(target.bandwidth, options.clock),
    download: bandwidthPacer(target.bandwidth, options.clock),
    partSize: Math.max(MIN_PART_SIZE, options.partSize ?? DEFAULT_PART_SIZE),
    partParallel: Math.max(1, options.partParallel ?? PART_PARALLEL),
    pageSize: options.pageSize ?? 1000,
  };
  const own = (signal: AbortSignal | undefined): AbortSignal | undefined => signal ?? options.signal;
  return {
    target,
    hasBlob: (sha, size, signal) => hasBlob(ctx, sha, size, own(signal)),
    blobSize: (sha, signal) => blobSize(ctx, sha, own(signal)),
    putBlob: (sha, size, file, opts = {}) => putBlob(ctx, sha, size, file, { ...opts, signal: own(opts.signal) }),
    downloadBlob: (sha, dest, opts = {}) => downloadBlob(ctx, sha, dest, { ...opts, signal: own(opts.signal) }),
    openBlob: (sha, signal) => openBlob(ctx, sha, own(signal)),
    openBlobUnchecked: (sha, signal) => openBlobUnchecked(ctx, sha, own(signal)),
    putJson: (key, value, signal) => putJson(ctx, key, value, own(signal)),
    getJson: (key, signal) => getJson(ctx, key, own(signal)),
    listKeys: (prefix, signal) => listKeys(ctx, prefix, own(signal)),
    listObjects: (prefix, signal) => listObjects(ctx, prefix, own(signal)),
    listBlobs: (signal) => listBlobs(ctx, own(signal)),
    deleteKey: (key, signal) => deleteKey(ctx, key, own(signal)),
    abortUpload: (state, signal) => abortUpload(ctx, state, own(signal)),
    listUploads: (signal) => listUploads(ctx, own(signal)),
    abortStaleUploads: (olderThanMs, now, signal) => abortStaleUploads(ctx, olderThanMs, now, own(signal)),
    close: () => ctx.client.destroy(),
  };
}
