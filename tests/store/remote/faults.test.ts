/**
 * The object layer through the fault proxy: throttling, server errors, cut and stalled connections
 * are retried (transfers go on from where they stopped); refusals are not; an abort ends every
 * kind of wait at once. Points are reached by waiting on the proxy's events, never by sleeping.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RemoteRetryEvent } from '../../../src/store/remote/remote-context.js';
import { RemoteError } from '../../../src/store/remote/remote-errors.js';
import { manifestKey } from '../../../src/store/remote/s3-target.js';
import type { UploadState } from '../../../src/store/remote/upload-state.js';
import { MiB, PART, remoteWorld } from '../../helpers/remote-world.js';
import { badBlobs, sha256 } from '../../helpers/s3-oracle.js';

const world = remoteWorld();
const PART_PUT = { method: 'PUT', url: /[?&]partNumber=2&/ };

describe('retried', () => {
  it('503 SlowDown on a PUT: the same PUT again, reported as throttled', async () => {
    const w = world();
    const retries: RemoteRetryEvent[] = [];
    const objects = w.open({ onRetry: (e) => retries.push(e) });
    const f = await w.file(50_000);
    w.proxy.inject({ kind: 'respond', status: 503, code: 'SlowDown', match: { method: 'PUT' } });
    await objects.putBlob(f.sha, 50_000, f.path);
    const puts = w.proxy.requests().filter((r) => r.method === 'PUT');
    expect(puts.map((r) => [r.fault, r.bodyBytes])).toEqual([
      ['respond', 0],
      [null, 50_000],
    ]);
    expect(retries.map((e) => [e.op, e.kind])).toEqual([['PutObject', 'throttled']]);
    expect(await badBlobs(w.server, w.bucket, 'ckptd/')).toEqual([]);
  });

  it('500 on a HEAD and on a listing', async () => {
    const w = world();
    const objects = w.open();
    w.proxy.inject({ kind: 'respond', status: 500, code: 'InternalError', match: { method: 'HEAD' } });
    w.proxy.inject({ kind: 'respond', status: 500, code: 'InternalError', match: { method: 'GET' } });
    expect(await objects.hasBlob(sha256(Buffer.from('x')), 1)).toBe(false);
    expect(await objects.listBlobs()).toEqual([]);
    expect(w.proxy.requests().map((r) => [r.method, r.fault])).toEqual([
      ['HEAD', 'respond'],
      ['HEAD', null],
      ['GET', 'respond'],
      ['GET', null],
    ]);
  });

  it('a connection cut in the middle of a part: only that part is sent again', async () => {
    const w = world();
    const objects = w.open();
    const f = await w.file(2 * PART + 1000);
    w.proxy.inject({ kind: 'drop', direction: 'request', afterBytes: MiB, match: PART_PUT });
    const put = await objects.putBlob(f.sha, f.data.length, f.path);
    expect(put.sentBytes).toBe(f.data.length);
    const parts = w.proxy.requests().filter((r) => r.url.includes('partNumber='));
    expect(parts.map((r) => [/partNumber=(\d+)/.exec(r.url)![1], r.fault])).toEqual([
      ['1', null],
      ['2', 'drop'],
      ['2', null],
      ['3', null],
    ]);
    expect(parts[1]!.bodyBytes).toBeLessThan(MiB);
    expect(await badBlobs(w.server, w.bucket, 'ckptd/')).toEqual([]);
    expect(await objects.hasBlob(f.sha, f.data.length)).toBe(true);
  });

  it('a connection cut mid-download goes on with a Range request from the bytes already written', async () => {
    const w = world();
    const objects = w.open();
    const f = await w.file(3 * MiB);
    await objects.putBlob(f.sha, f.data.length, f.path);
    w.proxy.inject({ kind: 'drop', direction: 'response', afterBytes: 2 * MiB, match: { method: 'GET' } });
    const downBefore = w.proxy.bytesDown();
    const dest = path.join(w.tmp, 'out.bin');
    expect(await objects.downloadBlob(f.sha, dest)).toBe(f.data.length);
    expect(sha256(await fsp.readFile(dest))).toBe(f.sha);
    const gets = w.proxy.requests().filter((r) => r.method === 'GET');
    expect(gets).toHaveLength(2);
    expect(gets[0]!.headers.range).toBeUndefined();
    const from = Number(/^bytes=(\d+)-$/.exec(gets[1]!.headers.range ?? '')?.[1]);
    expect(from).toBeGreaterThan(MiB);
    expect(from).toBeLessThanOrEqual(2 * MiB);
    // The first answer was cut after 2 MiB; the second brought only the bytes from `from` on
    // (plus two answers' headers): what was written before the cut was not fetched again.
    expect(w.proxy.bytesDown() - downBefore).toBeLessThanOrEqual(2 * MiB + (f.data.length - from) + 2048);
  });

  it('a stalled answer times out and is asked again', async () => {
    const w = world();
    const retries: RemoteRetryEvent[] = [];
    const objects = w.open({ timeouts: { idleMs: 300 }, onRetry: (e) => retries.push(e) });
    const key = manifestKey(w.target, 'run-a', '20261201-120000-000-abcd');
    await objects.putJson(key, { ok: true });
    w.proxy.inject({ kind: 'stall', direction: 'response', afterBytes: 0, match: { method: 'GET' } });
    expect(await objects.getJson(key)).toEqual({ ok: true });
    expect(retries.map((e) => [e.op, e.kind])).toEqual([['GetObject', 'timeout']]);
  });

  it('a slow but steady download is not a stall: no timeout, no retry', async () => {
    const w = world();
    const retries: RemoteRetryEvent[] = [];
    // 300 ms without a byte would time out; the slowed proxy hands over a slice every 50 ms.
    // (Uploads are not tested this way: the kernel's socket buffers take a whole body at once on
    // loopback, so the client's idle time depends on them, not on the link.)
    const objects = w.open({ timeouts: { idleMs: 300 }, onRetry: (e) => retries.push(e) });
    const f = await w.file(MiB);
    await objects.putBlob(f.sha, f.data.length, f.path);
    w.proxy.slow(2 * MiB);
    const dest = path.join(w.tmp, 'slow.bin');
    await objects.downloadBlob(f.sha, dest);
    expect(sha256(await fsp.readFile(dest))).toBe(f.sha);
    expect(retries).toEqual([]);
  });

  it('the answer to CompleteMultipartUpload lost: the object is there, the upload is done', async () => {
    const w = world();
    const objects = w.open();
    const f = await w.file(PART + 10);
    const states: (UploadState | null)[] = [];
    w.proxy.inject({ kind: 'drop', direction: 'response', afterBytes: 0, match: { method: 'POST', url: /[?&]uploadId=/ } });
    await objects.putBlob(f.sha, f.data.length, f.path, { onState: (s) => void states.push(s) });
    expect(states[states.length - 1]).toBeNull();
    expect(w.proxy.requests().filter((r) => r.method === 'POST' && r.url.includes('uploadId=')).map((r) => r.fault)).toEqual(['drop', null]);
    expect(await badBlobs(w.server, w.bucket, 'ckptd/')).toEqual([]);
    expect(await objects.hasBlob(f.sha, f.data.length)).toBe(true);
  });
});

describe('not retried', () => {
  it('403 from the service: one request, an error naming the credentials', async () => {
    const w = world();
    const objects = w.open();
    const f = await w.file(10);
    w.proxy.inject({ kind: 'respond', status: 403, code: 'AccessDenied', match: { method: 'HEAD' } });
    const err = await objects.putBlob(f.sha, 10, f.path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).status).toBe(403);
    expect((err as Error).message).toMatch(/^HeadObject s3:\/\/t-[0-9a-f]+\/ckptd\/blobs\/sha256\/.* failed \(403.*check the credentials the AWS SDK finds/);
    expect(w.proxy.requests()).toHaveLength(1);
  });

  it('credentials the server does not know: refused once, and the secret is in no message', async () => {
    const w = world();
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    // s3rver checks the access key id, not the SigV4 signature: an unknown id is what it refuses.
    process.env.AWS_ACCESS_KEY_ID = 'AKIAUNKNOWN';
    process.env.AWS_SECRET_ACCESS_KEY = 'wrong-secret-value-1234';
    try {
      const objects = w.open();
      const err = await objects.putJson(manifestKey(w.target, 'run-a', '20261201-120000-000-abcd'), {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect((err as RemoteError).status).toBe(403);
      expect((err as RemoteError).code).toBe('InvalidAccessKeyId');
      expect((err as Error).message).toMatch(/check the credentials the AWS SDK finds/);
      expect(`${(err as Error).message} ${(err as Error).stack}`).not.toContain('wrong-secret-value-1234');
      expect(w.proxy.requests()).toHaveLength(1);
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved.id;
      process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    }
  });

  it('retries end after the last attempt with the last error', async () => {
    const w = world();
    const objects = w.open({ retry: { attempts: 3 } });
    for (let i = 0; i < 3; i++) w.proxy.inject({ kind: 'respond', status: 503, code: 'SlowDown' });
    const err = await objects.listBlobs().catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^ListObjectsV2 s3:\/\/.* failed after 3 attempts \(503 SlowDown/);
    expect(w.proxy.requests()).toHaveLength(3);
  });
});

describe('an abort', () => {
  it('ends an upload stalled mid-part at once with its reason; the state stays resumable', async () => {
    const w = world();
    // One part at a time, so the change (or stall) lands between two parts.
    const objects = w.open({ partParallel: 1 });
    const f = await w.file(2 * PART + 1000);
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const states: (UploadState | null)[] = [];
    w.proxy.inject({ kind: 'stall', direction: 'request', afterBytes: MiB, match: PART_PUT });
    void w.proxy.next('fault').then(() => controller.abort(reason));
    await expect(objects.putBlob(f.sha, f.data.length, f.path, { signal: controller.signal, onState: (s) => void states.push(s) })).rejects.toBe(reason);
    expect(states[states.length - 1]?.parts.map((p) => p.number)).toEqual([1]);
    expect(await w.server.pendingUploads(w.bucket)).toHaveLength(1);
    expect(await w.server.storedObjects(w.bucket)).toEqual([]);
  });

  it('ends a download stalled mid-body and leaves no file', async () => {
    const w = world();
    const objects = w.open();
    const f = await w.file(2 * MiB);
    await objects.putBlob(f.sha, f.data.length, f.path);
    const controller = new AbortController();
    w.proxy.inject({ kind: 'stall', direction: 'response', afterBytes: MiB, match: { method: 'GET' } });
    void w.proxy.next('fault').then(() => controller.abort(new Error('stop')));
    const dir = path.join(w.tmp, 'd');
    await fsp.mkdir(dir);
    await expect(objects.downloadBlob(f.sha, path.join(dir, 'x'), { signal: controller.signal })).rejects.toThrow('stop');
    expect(await fsp.readdir(dir)).toEqual([]);
  });

  it('ends the wait between two tries', async () => {
    const w = world();
    const controller = new AbortController();
    const objects = w.open({ retry: { baseMs: 3_600_000, maxMs: 3_600_000, random: () => 0.99 }, onRetry: () => controller.abort(new Error('stop waiting')) });
    w.proxy.inject({ kind: 'respond', status: 503, code: 'SlowDown' });
    await expect(objects.listBlobs(controller.signal)).rejects.toThrow('stop waiting');
    expect(w.proxy.requests()).toHaveLength(1);
  });
});
