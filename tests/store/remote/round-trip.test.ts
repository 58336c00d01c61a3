/**
 * The object layer against a real S3 API server: blobs go up (one PUT or multipart), are found by
 * HEAD, come back down verified; JSON objects, listings across pages, deletion. The server's disk
 * is checked by the oracle, not by the code under test.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { blobKey, manifestKey, runSnapshotsPrefix, runsPrefix } from '../../../src/store/remote/s3-target.js';
import { badBlobs, sha256, storedBlob } from '../../helpers/s3-oracle.js';
import { MiB, PART, remoteWorld, type RemoteWorld } from '../../helpers/remote-world.js';

const world = remoteWorld();

/** sha256 of the bytes the server stores for blob `sha` (buffers this large are compared by hash: a deep equal takes minutes). */
async function storedSha(w: RemoteWorld, sha: string): Promise<string | null> {
  const data = await storedBlob(w.server, w.bucket, sha, 'ckptd/');
  return data === null ? null : sha256(data);
}

describe('blobs', () => {
  it('a small file goes up in one PUT, is found with its size, and comes back byte for byte', async () => {
    const w = world();
    const objects = w.open();
    const f = await w.file(300_000);
    expect(await objects.hasBlob(f.sha, f.data.length)).toBe(false);
    const done: number[] = [];
    const put = await objects.putBlob(f.sha, f.data.length, f.path, { onBytes: (d) => done.push(d) });
    expect(put).toEqual({ outcome: 'uploaded', sentBytes: f.data.length, reusedParts: 0 });
    expect(done).toEqual([f.data.length]);
    expect(w.proxy.requests().filter((r) => r.method === 'PUT')).toHaveLength(1);
    expect(await storedSha(w, f.sha)).toBe(f.sha);
    expect(await objects.hasBlob(f.sha, f.data.length)).toBe(true);
    expect(await objects.hasBlob(f.sha, f.data.length + 1)).toBe(false);

    const dest = path.join(w.tmp, 'out', 'copy.bin');
    await fsp.mkdir(path.dirname(dest));
    expect(await objects.downloadBlob(f.sha, dest)).toBe(f.data.length);
    expect(sha256(await fsp.readFile(dest))).toBe(f.sha);
    expect(await fsp.readdir(path.dirname(dest))).toEqual(['copy.bin']);
    expect(await badBlobs(w.server, w.bucket, 'ckptd/')).toEqual([]);
  });

  it('a blob already stored is not sent again', async () => {
    const w = world();
    const objects = w.open();
    const f = await w.file(1000);
    await objects.putBlob(f.sha, 1000, f.path);
    const before = w.proxy.bytesUp();
    expect(await objects.putBlob(f.sha, 1000, f.path)).toEqual({ outcome: 'present', sentBytes: 0, reusedParts: 0 });
    expect(w.proxy.bytesUp() - before).toBeLessThan(2000);
    expect(w.proxy.requests().map((r) => r.method)).toEqual(['HEAD', 'PUT', 'HEAD']);
  });

  it('an empty file is a blob too', async () => {
    const w = world();
    const objects = w.open();
    const f = await w.file(0);
    await objects.putBlob(f.sha, 0, f.path);
    expect(await objects.hasBlob(f.sha, 0)).toBe(true);
    const dest = path.join(w.tmp, 'empty');
    expect(await objects.downloadBlob(f.sha, dest)).toBe(0);
    expect(fs.statSync(dest).size).toBe(0);
  });

  it('a large file goes up by multipart, one part at a time, and comes back whole', async () => {
    const w = world();
    // One part at a time, so the states come in part order (with several at once, any order).
    const objects = w.open({ partParallel: 1 });
    const f = await w.file(2 * PART + 12345);
    const states: (number[] | null)[] = [];
    const put = await objects.putBlob(f.sha, f.data.length, f.path, { onState: (s) => void states.push(s === null ? null : s.parts.map((p) => p.number)) });
    expect(put).toEqual({ outcome: 'uploaded', sentBytes: f.data.length, reusedParts: 0 });
    // Created, then after each part, then done.
    expect(states).toEqual([[], [1], [1, 2], [1, 2, 3], null]);
    const parts = w.proxy.requests().filter((r) => r.method === 'PUT' && r.url.includes('partNumber='));
    expect(parts.map((r) => r.bodyBytes)).toEqual([PART, PART, 12345]);
    expect(await storedSha(w, f.sha)).toBe(f.sha);
    expect(await w.server.pendingUploads(w.bucket)).toEqual([]);


    const dest = path.join(w.tmp, 'big.bin');
    const seen: number[] = [];
    await objects.downloadBlob(f.sha, dest, { onBytes: (d, total) => (seen.push(d), expect(total).toBe(f.data.length)) });
    expect(sha256(await fsp.readFile(dest))).toBe(f.sha);
    expect(seen[seen.length - 1]).toBe(f.data.length);
  });

  it('openBlob streams the bytes of a blob', async () => {
    const w = world();
    const objects = w.open();
    const body = Buffer.from('hello, blob\n');
    const f = { path: path.join(w.tmp, 'h'), sha: sha256(body) };
    await fsp.writeFile(f.path, body);
    await objects.putBlob(f.sha, body.length, f.path);
    expect(await text(await objects.openBlob(f.sha))).toBe('hello, blob\n');
  });

  it('listBlobs lists every blob with its size and time, and nothing that is not a blob key', async () => {
    const w = world();
    const objects = w.open();
    const a = await w.file(10);
    const b = await w.file(20);
    await objects.putBlob(a.sha, 10, a.path);
    await objects.putBlob(b.sha, 20, b.path);
    await objects.putJson(manifestKey(w.target, 'run-a', '20261201-120000-000-abcd'), { id: 1 });
    const blobs = await objects.listBlobs();
    expect(blobs.map((x) => [x.sha, x.size]).sort()).toEqual(
      [
        [a.sha, 10],
        [b.sha, 20],
      ].sort(),
    );
    for (const x of blobs) expect(x.lastModified).toBeInstanceOf(Date);
  });
});

describe('JSON objects and listings', () => {
  it('putJson and getJson round-trip; a missing key reads as undefined', async () => {
    const w = world();
    const objects = w.open();
    const key = manifestKey(w.target, 'run-a', '20261201-120000-000-abcd');
    expect(await objects.getJson(key)).toBeUndefined();
    await objects.putJson(key, { id: '20261201-120000-000-abcd', files: [{ path: 'a', sha256: 'x' }] });
    expect(await objects.getJson(key)).toEqual({ id: '20261201-120000-000-abcd', files: [{ path: 'a', sha256: 'x' }] });
    await objects.deleteKey(key);
    expect(await objects.getJson(key)).toBeUndefined();
    await objects.deleteKey(key);
  });

  it('listKeys reads every page, in key order, under the prefix only', async () => {
    const w = world();
    const objects = w.open({ pageSize: 2 });
    const ids = ['20261201-120000-000-0001', '20261201-120000-000-0003', '20261201-120000-000-0002', '20261201-120000-000-0005', '20261201-120000-000-0004'];
    for (const id of ids) await objects.putJson(manifestKey(w.target, 'run-a', id), { id });
    await objects.putJson(manifestKey(w.target, 'run-b', ids[0]!), { id: ids[0] });
    const keys = await objects.listKeys(runSnapshotsPrefix(w.target, 'run-a'));
    expect(keys).toEqual([...ids].sort().map((id) => manifestKey(w.target, 'run-a', id)));
    expect(w.proxy.requests().filter((r) => r.method === 'GET' && r.url.includes('list-type=2'))).toHaveLength(3);
    expect(await objects.listKeys(runsPrefix(w.target))).toHaveLength(6);
  });

  it('keys live under the prefix, and an empty prefix works', async () => {
    const w = world();
    const bare = { ...w.target, prefix: '' };
    const objects = w.open({}, bare);
    const f = await w.file(5);
    await objects.putBlob(f.sha, 5, f.path);
    expect((await w.server.storedObjects(w.bucket)).map((o) => o.key)).toEqual([blobKey(bare, f.sha)]);
    expect(blobKey(bare, f.sha)).toBe(`blobs/sha256/${f.sha.slice(0, 2)}/${f.sha}`);
    expect(await badBlobs(w.server, w.bucket)).toEqual([]);
  });
});

describe('bandwidth', () => {
  it('uploads and downloads take the time the limit says (on a fake clock)', async () => {
    const w = world();
    const clock = { t: 0, now: () => clock.t, sleep: async (ms: number) => void (clock.t += ms) };
    const objects = w.open({ clock }, { ...w.target, bandwidth: MiB });
    const f = await w.file(PART + 1000);
    await objects.putBlob(f.sha, f.data.length, f.path);
    // 5 MiB at 1 MiB/s less the first tenth of a second's burst.
    expect(clock.t).toBeGreaterThanOrEqual(((f.data.length - MiB / 10) / MiB) * 1000 - 1);
    expect(clock.t).toBeLessThan((f.data.length / MiB) * 1000 + 100);
    const t0 = clock.t;
    await objects.downloadBlob(f.sha, path.join(w.tmp, 'paced.bin'));
    expect(clock.t - t0).toBeGreaterThanOrEqual(((f.data.length - MiB / 10) / MiB) * 1000 - 1);
  });
});

describe('sizes', () => {
  it('a blob of exactly one part size goes in one PUT; one byte more is multipart', async () => {
    const w = world();
    const objects = w.open();
    const one = await w.file(PART);
    await objects.putBlob(one.sha, PART, one.path);
    expect(w.proxy.requests().some((r) => r.url.includes('uploads'))).toBe(false);
    const more = await w.file(PART + 1);
    await objects.putBlob(more.sha, PART + 1, more.path);
    const parts = w.proxy.requests().filter((r) => r.url.includes('partNumber='));
    expect(parts.map((r) => r.bodyBytes)).toEqual([PART, 1]);
    expect(await badBlobs(w.server, w.bucket, 'ckptd/')).toEqual([]);
    expect(MiB).toBe(1024 * 1024);
  });
});
