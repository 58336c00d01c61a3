/**
 * An independent check of a remote store as the test S3 server holds it on disk: it imports
 * nothing from `src/`, reads the server's files rather than asking through the SDK, and knows the
 * layout only from SPEC section 8 (`PREFIX/blobs/sha256/<first 2 hex>/<sha256>`).
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import type { S3TestServer } from './s3-server.js';

/** The keys under `PREFIX/blobs/` whose stored bytes do not hash to the key (or that are not blob keys at all). */
export async function badBlobs(server: S3TestServer, bucket: string, prefix = ''): Promise<string[]> {
  const bad: string[] = [];
  for (const { key, file } of await server.storedObjects(bucket)) {
    if (!key.startsWith(`${prefix}blobs/`)) continue;
    const m = /^blobs\/sha256\/([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(key.slice(prefix.length));
    const sha = createHash('sha256').update(await fsp.readFile(file)).digest('hex');
    if (m === null || !m[2]!.startsWith(m[1]!) || sha !== m[2]) bad.push(key);
  }
  return bad;
}

/** The bytes stored for blob `sha`, or null when the server holds no such object. */
export async function storedBlob(server: S3TestServer, bucket: string, sha: string, prefix = ''): Promise<Buffer | null> {
  const key = `${prefix}blobs/sha256/${sha.slice(0, 2)}/${sha}`;
  const found = (await server.storedObjects(bucket)).find((o) => o.key === key);
  return found === undefined ? null : fsp.readFile(found.file);
}

/** sha256 of `data`, hex. */
export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
