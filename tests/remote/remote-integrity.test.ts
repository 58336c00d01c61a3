/**
 * What a push publishes names only objects that are there, and what a pull writes stays in the
 * store, whatever the remote holds: a manifest naming a blob that went missing, a record that
 * `verify --remote` found damaged, a manifest listing a file under a symlink of its own. And no
 * message echoes a credential written into the remote's address.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseEndpoint, parseRemoteUrl } from '../../src/config/remote-address.js';
import type { RunConfig } from '../../src/config/types.js';
import { executeOp } from '../../src/ops/execute.js';
import { pushQueued } from '../../src/ops/push.js';
import type { S3Objects } from '../../src/store/remote/s3-objects.js';
import { blobKey, manifestKey, parseS3Target, s3UrlProblem } from '../../src/store/remote/s3-target.js';
import type { SnapshotMeta } from '../../src/store/types.js';
import type { Logger } from '../../src/util/logger.js';
import { pushingRun, queuedBackup, remoteOf } from '../helpers/pushing-run.js';
import { remoteWorld, type RemoteWorld } from '../helpers/remote-world.js';
import { tempDir } from '../store/fixtures.js';

const world = remoteWorld();
const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };
const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');
const ctx = { logger: quiet, now: Date.now, ignoreBackoff: true };




async function missingOn(w: RemoteWorld, run: RunConfig, id: string): Promise<string[]> {
  const r = remoteOf(w, run);
  return (await r.verifyExists(await r.resolve(id))).missing;
}

describe('the remote keeps only what its manifests name', () => {
  it('a push that stopped between its manifest and a blob it had to send again is finished by the next push', async () => {
    const w = world();
    const a = await pushingRun(w, 'a');
    const base = 'bytes another run left unreferenced '.repeat(50);
    const key = blobKey(w.target, sha(base));
    await w.rawPut(key, Buffer.from(base));
    const s = await queuedBackup(a, { 'base.bin': base, 'state.json': '1' });
    // Another machine's collection takes the reused blob right after the manifest; the resend (its
    // second putBlob: the first found it stored) then fails.
    const real = w.open();
    let sends = 0;
    const objects = new Proxy(real, {
      get(t, p, r) {
        const v = Reflect.get(t, p, r) as (...args: unknown[]) => Promise<unknown>;
        if (p === 'putJson') return async (k: string, ...rest: unknown[]) => {
          await v.call(t, k, ...rest);
          if (k.includes('/snapshots/')) await real.deleteKey(key);
        };
        if (p === 'putBlob') return async (blob: string, ...rest: unknown[]) => {
          if (blob === sha(base) && ++sends === 2) throw new Error('network down during the resend');
          return v.call(t, blob, ...rest);
        };
        return typeof v === 'function' ? v.bind(t) : v;
      },
    }) as S3Objects;
    expect((await pushQueued(a, remoteOf(w, a, objects), ctx)).failed?.error).toMatch(/network down/);
    expect(await missingOn(w, a, s.id)).toEqual(['base.bin']);

    const again = await pushQueued(a, remoteOf(w, a), ctx);
    expect(again.pushed.map((p) => p.id)).toEqual([s.id]);
    expect(await missingOn(w, a, s.id)).toEqual([]);
  });

  it('a push takes no blob on trust from a record verify --remote found damaged', async () => {
    const w = world();
    const a = await pushingRun(w, 'a');
    const ra = remoteOf(w, a);
    const base = 'base model bytes '.repeat(100);
    const first = await queuedBackup(a, { 'base.bin': base, 'state.json': '1' });
    await pushQueued(a, ra, ctx);
    // The blob goes (a lifecycle rule, an operator); verify --remote marks the record damaged.
    await w.open().deleteKey(blobKey(w.target, sha(base)));
    const check = await ra.verifyExists(await ra.resolve(first.id));
    expect(check.missing).toEqual(['base.bin']);
    await ra.markVerified(check, Date.now());

    const next = await queuedBackup(a, { 'base.bin': base, 'state.json': '2' });
    expect((await pushQueued(a, ra, ctx)).pushed.map((p) => p.id)).toEqual([next.id]);
    expect(await missingOn(w, a, next.id)).toEqual([]);
  });

  it('a pull refuses a manifest listing a file under a symlink of its own, and writes nothing outside the store', async () => {
    const w = world();
    const a = await pushingRun(w, 'a');
    const outside = await tempDir();
    const s = await queuedBackup(a, { 'a/x': 'payload' });
    await pushQueued(a, remoteOf(w, a), ctx);
    const objects = w.open();
    const key = manifestKey(w.target, 'a', s.id);
    const m = (await objects.getJson(key)) as SnapshotMeta;
    const x = m.files.find((f) => f.path === 'a/x')!;
    m.files = [{ ...x, path: 'a', type: 'symlink', target: outside, sha256: sha(outside), size: outside.length }, x];
    await objects.putJson(key, m);

    const b = await pushingRun(w, 'a');
    await expect(executeOp(b, { kind: 'pull', id: s.id }, { logger: quiet, now: Date.now() })).rejects.toThrow(/a\/x lies under a, which it lists as a symlink; nothing was imported/);
    expect(fs.readdirSync(outside)).toEqual([]);
  });
});

describe('credentials written into the remote address', () => {
  const secret = 's3cr3tKey';
  it.each([
    ['an http URL with a password', () => s3UrlProblem(`https://AKIAEXAMPLE:${secret}@bucket.s3.amazonaws.com/p`)],
    ['a presigned URL', () => s3UrlProblem(`s3://bucket/p?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=${secret}`)],
    ['an endpoint that is not a URL', () => errorOf(() => parseS3Target({ url: 's3://bucket1', endpoint: `http://AKIAEXAMPLE:${secret}@minio.local:99999` }))],
    ['an endpoint without its colon', () => errorOf(() => parseS3Target({ url: 's3://bucket1', endpoint: `ftp//AKIAEXAMPLE:${secret}@minio.local` }))],
    ['a config url with a query', () => messageOf(parseRemoteUrl(`s3://bucket/p?X-Amz-Signature=${secret}`))],
    ['a config url that is a presigned https URL', () => messageOf(parseRemoteUrl(`https://bucket.s3.amazonaws.com/p?X-Amz-Signature=${secret}`))],
    ['a config endpoint with a query', () => messageOf(parseEndpoint(`https://minio.local?token=${secret}`))],
  ])('are never echoed: %s', (_what, message) => {
    const text = message();
    expect(text).toBeTruthy();
    expect(text).not.toContain(secret);
  });
});

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

function messageOf(r: { ok: boolean; message?: string }): string {
  return r.ok ? '' : (r.message ?? '');
}
