/**
 * Retrying a remote call: which failures are worth another try (network errors, timeouts, 5xx,
 * throttling), how long to wait (exponential backoff with full jitter, the random source
 * injectable), and the loop that stops at once when its AbortSignal fires.
 */
import { setTimeout as delay } from 'node:timers/promises';

/** How often and how patiently a call is retried. */
export interface RetryPolicy {
  /** Tries in all, the first included (>= 1). */
  attempts: number;
  /** The ceiling of the first wait; each retry doubles it, up to `maxMs`. */
  baseMs: number;
  maxMs: number;
  /** A number in [0, 1): the jitter (a seeded generator in tests). */
  random: () => number;
  /** Waits `ms` or rejects with the signal's reason when it fires first. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Why a failure is retried: lost or refused connection, no answer in time, a server error, throttling. */
export type RetryKind = 'network' | 'timeout' | 'server' | 'throttled';

/** One retry about to happen, for logs and metrics. */
export interface RetryEvent {
  /** The attempt that failed (1 = the first). */
  attempt: number;
  kind: RetryKind;
  delayMs: number;
  error: unknown;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 8,
  baseMs: 250,
  maxMs: 20_000,
  random: Math.random,
  sleep: (ms, signal) => delay(ms, undefined, signal === undefined ? undefined : { signal }),
};

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'ENETDOWN', 'EHOSTUNREACH', 'ERR_STREAM_PREMATURE_CLOSE']);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT']);
const THROTTLE_CODES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'RequestLimitExceeded']);

/** The HTTP status of an SDK error, or null when no answer came (a network error, a local error). */
export function statusOf(err: unknown): number | null {
  const s = (err as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return typeof s === 'number' ? s : null;
}

/** The S3 error code (`SlowDown`, `NoSuchKey`, ...) or errno name (`ECONNRESET`) of an error, or null. */
export function codeOf(err: unknown): string | null {
  const e = err as { Code?: unknown; code?: unknown; name?: unknown } | null;
  if (typeof e?.Code === 'string') return e.Code;
  if (typeof e?.code === 'string') return e.code;
  return null;
}

/**
 * Why `err` is worth another try, or null when it is not: answers 5xx, 429, 408 and S3's
 * `RequestTimeout` (a 400) are; other 4xx are not (wrong credentials, missing bucket: a retry
 * cannot help). Without an answer, only errors of the connection itself are (reset, refused,
 * timed out); anything else (a local file error, a bug) is not.
 */
export function retryKind(err: unknown): RetryKind | null {
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'AbortError') return null;
  const code = codeOf(err);
  const status = statusOf(err);
  if (status !== null) {
    if (status === 429 || status === 503 || (code !== null && THROTTLE_CODES.has(code))) return 'throttled';
    if (status >= 500) return 'server';
    if (status === 408 || code === 'RequestTimeout') return 'timeout';
    return null;
  }
  if (name === 'TimeoutError' || (code !== null && TIMEOUT_CODES.has(code))) return 'timeout';
  if (code !== null && NETWORK_CODES.has(code)) return 'network';
  return null;
}

/** The wait before retry number `attempt` (0 = the first retry): full jitter under a doubling ceiling. */
export function backoffMs(attempt: number, policy: Pick<RetryPolicy, 'baseMs' | 'maxMs' | 'random'>): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** attempt);
  return Math.floor(policy.random() * ceiling);
}

/**
 * Runs `op` (given the attempt number, 0 first) until it succeeds, fails with an error `retryKind`
 * rejects, or `policy.attempts` tries are used up; the last error is thrown as it was. When `signal`
 * fires, the current try is abandoned as soon as `op` notices and the signal's reason is thrown,
 * never retried; a wait between tries ends at once too.
 */
export async function withRetries<T>(op: (attempt: number) => Promise<T>, policy: RetryPolicy, signal?: AbortSignal, onRetry?: (e: RetryEvent) => void): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await op(attempt);
    } catch (err) {
      signal?.throwIfAborted();
      const kind = retryKind(err);
      if (kind === null || attempt + 1 >= policy.attempts) throw err;
      const delayMs = backoffMs(attempt, policy);
      onRetry?.({ attempt: attempt + 1, kind, delayMs, error: err });
      // timers/promises rejects with its own AbortError; the caller should see the signal's reason.
      await policy.sleep(delayMs, signal).catch((e: unknown) => {
        signal?.throwIfAborted();
        throw e;
      });
    }
  }
}
