/**
 * Parsers for where a remote lives (SPEC section 8): `url` (`s3://BUCKET[/PREFIX]`), `endpoint`
 * (the service's http(s) address) and `region`. Each returns the canonical value or a message that
 * says what is wrong and how to write it; none of them throws. A value that holds credentials
 * (`user:secret@`) is refused without being repeated in the message.
 */
import { withoutSecrets } from '../util/format.js';
import type { Parsed } from './units.js';

/** Where a remote's objects go: `url` canonical (`s3://bucket[/prefix]`), its bucket and its prefix. */
export interface RemoteAddress {
  url: string;
  bucket: string;
  /** Without leading or trailing `/`; `''` for the bucket's root. */
  prefix: string;
}

/** The message for a value with `user:secret@` in it. It must not repeat the value. */
export const CREDENTIALS_IN_VALUE =
  'must not hold credentials (user:secret@); ckptd takes them only from the AWS SDK default chain: the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), AWS_PROFILE with ~/.aws/credentials, or the instance role. Remove them from the file';

const URL_FORM = 'write s3://BUCKET or s3://BUCKET/PREFIX, e.g. s3://my-bucket/ckptd';

/**
 * `s3://bucket[/prefix]` → its bucket and prefix, with the URL made canonical (scheme in lower
 * case, no trailing `/`). The bucket follows S3's naming rules (`bucketNameProblem`); the prefix
 * has no empty, `.` or `..` segment and no `?` or `#`. Another scheme is refused with a pointer to
 * `endpoint`, which is where a service's http(s) address goes.
 */
export function parseRemoteUrl(value: string): Parsed<RemoteAddress> {
  const raw = value.trim();
  const early = credentialsOrPlaceholder(raw, 'write your bucket name');
  if (early !== null) return early;
  // Echoed in messages without a query (a presigned URL's signature).
  const text = withoutSecrets(raw);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') {
    return { ok: false, message: `"${text}" is an http(s) address; ${URL_FORM}, and put the service's address in endpoint (e.g. endpoint: https://s3.us-west-004.backblazeb2.com)` };
  }
  if (scheme !== 's3') {
    const bare = scheme === undefined && /^[a-z0-9][a-z0-9.-]*(\/|$)/.test(text) ? ` (did you mean s3://${text.replace(/\/+$/, '')}?)` : '';
    return { ok: false, message: `"${text}" is not an s3:// URL${bare}; ${URL_FORM}` };
  }
  const rest = raw.slice('s3://'.length);
  if (/[?#]/.test(rest)) return { ok: false, message: `"${text}" has a query (?) or fragment (#); ${URL_FORM}` };
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const prefix = slash === -1 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
  const bucketProblem = bucketNameProblem(bucket);
  if (bucketProblem !== null) return { ok: false, message: `${bucketProblem} (in "${text}")` };
  if (prefix !== '' && prefix.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    return { ok: false, message: `"${text}": the prefix "${prefix}" has an empty, "." or ".." part; write folder names between single slashes, e.g. s3://${bucket}/ckptd/team-a` };
  }
  if (/\p{Cc}/u.test(prefix)) return { ok: false, message: `"${text}": the prefix holds a control character; use printable characters` };
  return { ok: true, value: { url: prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${prefix}`, bucket, prefix } };
}

/**
 * Why `name` is not a valid S3 bucket name, or null when it is: 3 to 63 characters; lower-case
 * letters, digits, `.` and `-`; a letter or digit first and last; no `..`; not an IP address; not
 * a name S3 reserves (`xn--...`, `...-s3alias`, `...--ol-s3`). The message ends with the fix.
 */
export function bucketNameProblem(name: string): string | null {
  const problem = bucketRuleBroken(name);
  if (problem === null) return null;
  const fixed = suggestBucketName(name);
  const hint = fixed !== name && bucketRuleBroken(fixed) === null ? ` (e.g. "${fixed}")` : '';
  return `the bucket name "${name}" ${problem}${hint}`;
}

function bucketRuleBroken(name: string): string | null {
  if (name === '') return 'is missing: write s3://BUCKET after s3://';
  if (name.length < 3 || name.length > 63) return `is ${name.length} characters long; a bucket name has 3 to 63`;
  if (/[A-Z]/.test(name)) return 'has upper-case letters; bucket names are lower-case';
  if (!/^[a-z0-9.-]+$/.test(name)) return 'may hold only lower-case letters, digits, "." and "-"';
  if (!/^[a-z0-9].*[a-z0-9]$/.test(name)) return 'must begin and end with a letter or digit';
  if (name.includes('..')) return 'must not have two dots in a row';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'must not look like an IP address';
  if (name.startsWith('xn--') || name.endsWith('-s3alias') || name.endsWith('--ol-s3')) {
    return 'is reserved by S3 (xn--..., ...-s3alias, ...--ol-s3); choose another name';
  }
  return null;
}

function suggestBucketName(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
}

const ENDPOINT_EXAMPLES = 'e.g. http://127.0.0.1:9000 (MinIO) or https://s3.us-west-004.backblazeb2.com (B2), or null for AWS S3';

/**
 * An `endpoint`: an `http://` or `https://` URL with a host, no credentials, query or fragment →
 * `scheme://host[:port][/path]` with no trailing `/`. A `<PLACEHOLDER>` left from an example is
 * named so it can be filled in.
 */
export function parseEndpoint(value: string): Parsed<string> {
  const raw = value.trim();
  const early = credentialsOrPlaceholder(raw, ENDPOINT_EXAMPLES);
  if (early !== null) return early;
  const text = withoutSecrets(raw);
  const url = parseUrl(raw);
  if (url === null || url.host === '' || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    if (url?.protocol === 's3:') return { ok: false, message: `"${text}" is a bucket URL; the bucket goes in url, and endpoint is the service's http(s) address (${ENDPOINT_EXAMPLES})` };
    const hint = !raw.includes('://') && parseUrl(`http://${raw}`) !== null ? ` (did you mean http://${text}?)` : '';
    return { ok: false, message: `"${text}" is not an http:// or https:// URL${hint}; write the service's address, ${ENDPOINT_EXAMPLES}` };
  }
  if (url.search !== '' || url.hash !== '') return { ok: false, message: `"${text}" has a query (?) or fragment (#); write only the service's address, ${ENDPOINT_EXAMPLES}` };
  return { ok: true, value: `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}` };
}

/**
 * The refusal of a value with credentials in it (any `@` before the path: `user:secret@host`),
 * which does not repeat the value, or of one that still holds an example's `<PLACEHOLDER>`; else null.
 */
function credentialsOrPlaceholder(text: string, fix: string): { ok: false; message: string } | null {
  const authority = text.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split(/[/?#]/)[0]!;
  if (authority.includes('@')) return { ok: false, message: CREDENTIALS_IN_VALUE };
  const placeholder = /<[^>]*>/.exec(text)?.[0];
  return placeholder === undefined ? null : { ok: false, message: `still holds the placeholder ${placeholder}; replace it with your value (${fix})` };
}

function parseUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/** A `region`: a name such as `us-east-1`, `auto` (Cloudflare R2) or `us-west-004` (B2). */
export function parseRegion(value: string): Parsed<string> {
  const text = value.trim();
  if (/^[a-z0-9][a-z0-9_-]*$/i.test(text)) return { ok: true, value: text };
  const address = text.includes('://') || text.includes('.') ? "; the service's address goes in endpoint" : '';
  return { ok: false, message: `"${text}" is not a region name; write e.g. us-east-1 (auto for Cloudflare R2)${address}` };
}
