/**
 * The one place an `S3Client` is made. Credentials come only from the SDK's default chain
 * (environment, AWS_PROFILE and the shared files, instance roles): nothing here reads, passes or
 * logs them.
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { S3Target } from './s3-target.js';

/** How long a connection may take to open, and how long a request may sit without a byte moving. */
export interface ClientTimeouts {
  connectMs: number;
  idleMs: number;
}

const SILENT = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export const DEFAULT_TIMEOUTS: ClientTimeouts = { connectMs: 10_000, idleMs: 60_000 };

/** A client for `target`'s endpoint and region that never retries by itself (our layer does). */
export function makeS3Client(target: S3Target, timeouts: ClientTimeouts = DEFAULT_TIMEOUTS): S3Client {
  return new S3Client({
    region: target.region,
    ...(target.endpoint === null ? {} : { endpoint: target.endpoint }),
    forcePathStyle: target.forcePathStyle,
    // One retry loop, ours: it knows which calls are safe to repeat, resumes where a transfer
    // stopped, and its waits end when the caller aborts.
    maxAttempts: 1,
    // Since 3.729 the SDK adds CRC checksums (aws-chunked trailers) to every upload by default,
    // which several S3-compatible services reject. Integrity is ours instead: Content-MD5 on every
    // upload, and the sha256 of every blob checked on the way in and out.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: timeouts.connectMs, socketTimeout: timeouts.idleMs },
    // Without a logger of its own the SDK writes some warnings straight to the console (a failed
    // streaming upload, for one); our callers learn of every failure and retry through onRetry.
    logger: SILENT,
  });
}
