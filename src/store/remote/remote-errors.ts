/**
 * The errors of the object layer. Each names the object (`s3://bucket/key`) and the fix; none
 * carries credentials (the SDK's messages do not, and nothing here adds any).
 */
import { CkptdError } from '../../util/errors.js';
import { codeOf, retryKind, statusOf } from './retry.js';

/** A call to the object store failed for good (not retryable, or retries used up). */
export class RemoteError extends CkptdError {
  override readonly name = 'RemoteError';
  constructor(
    /** The S3 operation, e.g. `PutObject`. */
    readonly op: string,
    /** `s3://bucket/key` (or `s3://bucket/prefix` for a listing). */
    readonly where: string,
    /** The HTTP status, or null when no answer came. */
    readonly status: number | null,
    /** The S3 error code or errno name, or null. */
    readonly code: string | null,
    readonly attempts: number,
    cause: unknown,
  ) {
    super(describe(op, where, status, code, attempts, cause), { cause });
  }
}

/** The object stored under a blob's key does not hash to that key: it was not used, nothing was kept. */
export class BlobCorruptError extends CkptdError {
  override readonly name = 'BlobCorruptError';
  constructor(
    readonly where: string,
    readonly expected: string,
    readonly actual: string,
    readonly bytes: number,
  ) {
    super(
      `${where} is damaged: its ${bytes} bytes hash to ${actual}, not to its key; nothing was kept. ` +
        'Restore from another copy; to repair the remote, run `ckptd verify --remote --read-data` (it marks the snapshots that name it damaged), ' +
        'delete this object from the bucket, and push from a machine whose local store holds the file: a push sends an object that is missing',
    );
  }
}

/**
 * What a retried call finally threw, as a `RemoteError` when it came from the object store or the
 * way to it (an answer, a connection error, missing credentials). Anything else passes unchanged:
 * an abort's reason, ckptd's own errors, a local file error met while streaming.
 */
export function remoteError(op: string, where: string, attempts: number, err: unknown): unknown {
  if (err instanceof CkptdError) return err;
  const e = err as { name?: unknown; $metadata?: unknown } | null;
  const fromRemote = e?.$metadata !== undefined || retryKind(err) !== null || e?.name === 'CredentialsProviderError' || SETUP_CODES.has(codeOf(err) ?? '');
  return fromRemote ? new RemoteError(op, where, statusOf(err), codeOf(err), attempts, err) : err;
}

/** Connection errors that no retry can mend: a wrong host name, or a sandbox without IP sockets. */
const SETUP_CODES = new Set(['ENOTFOUND', 'EAFNOSUPPORT']);

function describe(op: string, where: string, status: number | null, code: string | null, attempts: number, cause: unknown): string {
  const msg = (cause as { message?: unknown } | null)?.message;
  const what = [status, code].filter((x) => x !== null).join(' ');
  const detail = typeof msg === 'string' && msg !== '' && msg !== code ? `${what === '' ? '' : `${what}: `}${msg}` : what || 'unknown error';
  const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
  return `${op} ${where} failed${tries} (${detail}); ${fixFor(status, code, cause)}`;
}

/** What the user can do about a failure, by its status and code. */
function fixFor(status: number | null, code: string | null, cause: unknown): string {
  const name = (cause as { name?: unknown } | null)?.name;
  if (name === 'CredentialsProviderError') {
    return 'no credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where an instance role applies';
  }
  if (code === 'NoSuchBucket') return 'create the bucket or correct remote.url';
  if (status === 301 || code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed') return "set remote.region to the bucket's region";
  if (code === 'RequestTimeTooSkewed') return "correct this machine's clock (S3 refuses requests signed more than 15 minutes off)";
  if (status === 403 || code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch' || code === 'AccessDenied') {
    return (
      'check the credentials the AWS SDK finds (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws) and that they may ' +
      'list, read, write and delete in this bucket (without s3:ListBucket, S3 answers 403 for an object that is not there)'
    );
  }
  if (code === 'EAFNOSUPPORT') {
    return (
      'this process may not open network sockets: under a systemd unit rendered before the run had a remote, render it ' +
      'again with `ckptd install-service --force`, or add PrivateNetwork=no and RestrictAddressFamilies=AF_INET AF_INET6 with `systemctl edit`'
    );
  }
  if (code === 'ENOTFOUND' || code === 'ECONNREFUSED') return 'check remote.endpoint and that the machine can reach it';
  if (retryKind(cause) !== null) return 'the object store or the network kept failing; the next push or pull tries again';
  return 'see the message above; if it persists, check remote.url, remote.endpoint and remote.region';
}
