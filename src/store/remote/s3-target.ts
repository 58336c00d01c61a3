/**
 * Where a remote store lives (`s3://BUCKET/PREFIX` plus endpoint, region, path style and bandwidth)
 * and the only place object keys are built (SPEC section 8):
 *
 *   PREFIX/blobs/sha256/<first 2 hex>/<sha256>     one object per file content
 *   PREFIX/runs/<run>/snapshots/<id>.json          a snapshot's manifest
 *   PREFIX/runs/<run>/saves/<id>.json              a save's record (for `push: all`)
 *   PREFIX/runs/<run>/damaged/<id>.json            the marker of a record that failed verification
 *   PREFIX/runs/<run>/lock.json                    the run's writer lease
 *
 * Keys are `ObjectKey`s, a branded string, so the object layer cannot be handed a key built
 * anywhere else. Nothing here does IO.
 */
import { withoutSecrets } from '../../util/format.js';
import { CkptdError } from '../../util/errors.js';
import { isValidId } from '../ids.js';

/** An object key built by this module (never by string concatenation elsewhere). */
export type ObjectKey = string & { readonly __objectKey: true };

/** A parsed remote location. Credentials are never part of it (the SDK's default chain only). */
export interface S3Target {
  bucket: string;
  /** `''` or segments each followed by `/`, e.g. `team/ckptd/`. */
  prefix: string;
  /** `http(s)://host[:port]` for MinIO, R2, B2 and the like; null for AWS itself. */
  endpoint: string | null;
  region: string;
  forcePathStyle: boolean;
  /** Bytes per second for uploads and for downloads (each), or null for no limit. */
  bandwidth: number | null;
}

/** What `parseS3Target` reads: the `remote:` keys of the config, already in bytes/s. */
export interface S3TargetInput {
  url: string;
  endpoint?: string | null;
  region?: string;
  forcePathStyle?: boolean;
  bandwidth?: number | null;
}

/** A remote setting that cannot work; the message names the setting and the fix. Exit code 2. */
export class S3TargetError extends CkptdError {
  override readonly exitCode = 2;
  override readonly name = 'S3TargetError';
}

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION_RE = /^[a-z0-9-]+$/;
const RUN_RE = /^[a-z0-9._-]+$/;
const SHA_RE = /^[0-9a-f]{64}$/;

/** The parsed target, or throws `S3TargetError` naming what is wrong and how to write it. */
export function parseS3Target(input: S3TargetInput): S3Target {
  const problem = s3UrlProblem(input.url);
  if (problem !== null) throw new S3TargetError(problem);
  const [bucket, ...rest] = input.url.slice('s3://'.length).split('/');
  const segments = rest.filter((s) => s !== '');
  const endpoint = input.endpoint ?? null;
  if (endpoint !== null) {
    const p = endpointProblem(endpoint);
    if (p !== null) throw new S3TargetError(p);
  }
  const region = input.region ?? 'us-east-1';
  if (!REGION_RE.test(region)) throw new S3TargetError(`remote.region "${region}" is not a region name; write e.g. us-east-1 (R2: auto)`);
  const bandwidth = input.bandwidth ?? null;
  if (bandwidth !== null && !(Number.isSafeInteger(bandwidth) && bandwidth > 0)) {
    throw new S3TargetError(`remote.bandwidth must be a positive number of bytes per second (e.g. 50MB/s) or null, not ${String(bandwidth)}`);
  }
  return {
    bucket: bucket!,
    prefix: segments.map((s) => `${s}/`).join(''),
    endpoint: endpoint === null ? null : endpoint.replace(/\/+$/, ''),
    region,
    forcePathStyle: input.forcePathStyle ?? false,
    bandwidth,
  };
}

/**
 * Why `url` is not a usable `s3://BUCKET/PREFIX`, with the fix, or null when it is. Never echoes
 * credentials written into the URL.
 */
export function s3UrlProblem(raw: string): string | null {
  const example = 'write it as s3://BUCKET or s3://BUCKET/PREFIX, e.g. s3://my-checkpoints/ckptd';
  // Checked first and never echoed: an "@" means someone wrote credentials into the URL.
  if (raw.includes('@')) {
    return 'remote.url must not carry credentials (it contains "@"); remove them and set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE (the AWS SDK default chain)';
  }
  const url = withoutSecrets(raw);
  if (!raw.startsWith('s3://')) return `remote.url "${url}" is not an s3:// URL; ${example}`;
  const rest = raw.slice('s3://'.length);
  const bucket = rest.split('/')[0]!;
  if (/[?#]/.test(rest)) return `remote.url "${url}" has a query or fragment; ${example}`;
  if (bucket === '') return `remote.url "${url}" names no bucket; ${example}`;
  if (!BUCKET_RE.test(bucket) || bucket.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(bucket)) {
    return `remote.url: "${bucket}" is not a valid bucket name; use 3-63 lower-case letters, digits, "." and "-", starting and ending with a letter or digit`;
  }
  const segments = rest.split('/').slice(1);
  // A trailing slash is fine; an empty, "." or ".." segment inside the prefix is not: some
  // S3-compatible servers normalize such paths, so the keys would not be where we think.
  const inner = segments.slice(0, segments.length > 0 && segments[segments.length - 1] === '' ? -1 : undefined);
  for (const s of inner) {
    if (s === '' || s === '.' || s === '..') return `remote.url "${url}" has an empty, "." or ".." folder in its prefix; ${example}`;
    if (/[\u0000-\u001f\u007f\\]/.test(s)) return `remote.url "${url}" has a control character or backslash in its prefix; use plain folder names`;
  }
  return null;
}

function endpointProblem(raw: string): string | null {
  const fix = 'write it as http(s)://HOST[:PORT], e.g. http://127.0.0.1:9000 for MinIO';
  const endpoint = withoutSecrets(raw);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return `remote.endpoint "${endpoint}" is not a URL; ${fix}`;
  }
  if (u.username !== '' || u.password !== '') {
    return 'remote.endpoint must not carry credentials; remove them and use the AWS SDK default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `remote.endpoint "${endpoint}" is not http or https; ${fix}`;
  if ((u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '') {
    return `remote.endpoint "${endpoint}" has a path, query or fragment; ${fix} (the bucket goes in remote.url)`;
  }
  return null;
}

/** `s3://BUCKET/PREFIX` of a target, for messages. */
export function describeTarget(t: S3Target): string {
  return `s3://${t.bucket}/${t.prefix}`;
}

/** True for a lower-case hex sha256. */
export function isSha256(s: string): boolean {
  return SHA_RE.test(s);
}

function checkSha(sha: string): void {
  if (!isSha256(sha)) throw new Error(`not a sha256: "${sha}" (64 lower-case hex digits expected)`);
}

function checkRun(run: string): void {
  if (!RUN_RE.test(run) || run === '.' || run === '..') throw new Error(`not a run name usable in an object key: "${run}"`);
}

function checkId(id: string): void {
  if (!isValidId(id)) throw new Error(`not a snapshot id: "${id}"`);
}

/** `PREFIX/blobs/sha256/`: every blob is under it. */
export function blobsPrefix(t: S3Target): ObjectKey {
  return `${t.prefix}blobs/sha256/` as ObjectKey;
}

/** `PREFIX/blobs/sha256/<first 2 hex>/<sha>`: the blob holding the content that hashes to `sha`. */
export function blobKey(t: S3Target, sha: string): ObjectKey {
  checkSha(sha);
  return `${blobsPrefix(t)}${sha.slice(0, 2)}/${sha}` as ObjectKey;
}

/** The sha256 a key from `blobsPrefix` names, or null when the key is not exactly a blob key. */
export function shaOfBlobKey(t: S3Target, key: string): string | null {
  const base = blobsPrefix(t);
  if (!key.startsWith(base)) return null;
  const m = /^([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(key.slice(base.length));
  return m !== null && m[2]!.startsWith(m[1]!) ? m[2]! : null;
}

/**
 * `PREFIX/in-use/`: the marks of blobs a push relies on without a manifest naming them yet
 * (see `remote-gc.ts`), one small object per blob.
 */
export function inUsePrefix(t: S3Target): ObjectKey {
  return `${t.prefix}in-use/` as ObjectKey;
}

/** `PREFIX/in-use/<sha>`: the mark of the blob `sha`; its LastModified is when a push last relied on it. */
export function inUseKey(t: S3Target, sha: string): ObjectKey {
  checkSha(sha);
  return `${inUsePrefix(t)}${sha}` as ObjectKey;
}

/** The sha256 a key from `inUsePrefix` marks, or null when the key is not exactly a mark's. */
export function shaOfInUseKey(t: S3Target, key: string): string | null {
  const base = inUsePrefix(t);
  const rest = key.startsWith(base) ? key.slice(base.length) : '';
  return isSha256(rest) ? rest : null;
}

/** `PREFIX/runs/`: every run's manifests are under it. */
export function runsPrefix(t: S3Target): ObjectKey {
  return `${t.prefix}runs/` as ObjectKey;
}

/** `PREFIX/runs/<run>/`: everything of one run (its records, markers and lease). */
export function runPrefix(t: S3Target, run: string): ObjectKey {
  checkRun(run);
  return `${runsPrefix(t)}${run}/` as ObjectKey;
}

/** `PREFIX/runs/<run>/snapshots/`: the manifests of one run. */
export function runSnapshotsPrefix(t: S3Target, run: string): ObjectKey {
  return `${runPrefix(t, run)}snapshots/` as ObjectKey;
}

/** `PREFIX/runs/<run>/saves/`: the save records of one run. */
export function runSavesPrefix(t: S3Target, run: string): ObjectKey {
  return `${runPrefix(t, run)}saves/` as ObjectKey;
}

/** `PREFIX/runs/<run>/saves/<id>.json`: the record of save `id` of `run`. */
export function saveRecordKey(t: S3Target, run: string, id: string): ObjectKey {
  checkId(id);
  return `${runSavesPrefix(t, run)}${id}.json` as ObjectKey;
}

/** `PREFIX/runs/<run>/damaged/`: the verification markers of one run. */
export function runDamagedPrefix(t: S3Target, run: string): ObjectKey {
  return `${runPrefix(t, run)}damaged/` as ObjectKey;
}

/** `PREFIX/runs/<run>/damaged/<id>.json`: the marker of record `id` of `run` (it failed verification). */
export function damagedMarkerKey(t: S3Target, run: string, id: string): ObjectKey {
  checkId(id);
  return `${runDamagedPrefix(t, run)}${id}.json` as ObjectKey;
}

/** `PREFIX/runs/<run>/lock.json`: the lease of the run's one writer. */
export function lockKey(t: S3Target, run: string): ObjectKey {
  return `${runPrefix(t, run)}lock.json` as ObjectKey;
}

/** `PREFIX/runs/<run>/snapshots/<id>.json`: the manifest of snapshot `id` of `run`. */
export function manifestKey(t: S3Target, run: string, id: string): ObjectKey {
  checkId(id);
  return `${runSnapshotsPrefix(t, run)}${id}.json` as ObjectKey;
}

/** The run and id a key from `runsPrefix` names, or null when the key is not exactly a manifest key. */
export function parseManifestKey(t: S3Target, key: string): { run: string; id: string } | null {
  const r = parseRecordKey(t, key);
  return r !== null && r.kind === 'snapshot' ? { run: r.run, id: r.id } : null;
}

/** What a key under `runsPrefix` is, when it is a record: a snapshot's manifest, a save's record or a marker. */
export type RecordKey = { run: string; kind: 'snapshot' | 'save' | 'damaged'; id: string };

const RECORD_FOLDERS = { snapshots: 'snapshot', saves: 'save', damaged: 'damaged' } as const;

/**
 * The run, kind and id a key from `runsPrefix` names, or null when it is not exactly a key that
 * `manifestKey`, `saveRecordKey` or `damagedMarkerKey` builds (a foreign object, an unsafe id).
 */
export function parseRecordKey(t: S3Target, key: string): RecordKey | null {
  const base = runsPrefix(t);
  if (!key.startsWith(base)) return null;
  const m = /^([^/]+)\/(snapshots|saves|damaged)\/([^/]+)\.json$/.exec(key.slice(base.length));
  if (m === null) return null;
  const [run, folder, id] = [m[1]!, m[2]! as keyof typeof RECORD_FOLDERS, m[3]!];
  return RUN_RE.test(run) && run !== '.' && run !== '..' && isValidId(id) ? { run, kind: RECORD_FOLDERS[folder], id } : null;
}

/** `s3://BUCKET/KEY`: where an object is, for a record's `path` and for messages. */
export function objectUrl(t: S3Target, key: string): string {
  return `s3://${t.bucket}/${key}`;
}
