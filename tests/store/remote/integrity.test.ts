/**
 * No key ever holds bytes that do not hash to it, and nothing unverified reaches the local disk:
 * a source that is not (or no longer) the blob's content is refused before the object can exist,
 * and a damaged object is refused on the way down, leaving no file behind.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { FileChangedError } from '../../../src/store/errors.js';
import { BlobCorruptError } from '../../../src/store/remote/remote-errors.js';
import { blobKey } from '../../../src/store/remote/s3-target.js';
import type { UploadState } from '../../../src/store/remote/upload-state.js';
import { PART, remoteWorld } from '../../helpers/remote-world.js';
import { badBlobs, sha256 } from '../../helpers/s3-oracle.js';

const world = remoteWorld();
const PAST = new Date('2026-01-01T00:00:00Z');

/** The part numbers of the UploadPart requests the proxy saw. */
function partsSent(w: ReturnType<typeof world>): number[] {
  return w.proxy.requests().flatMap((r) => {
    const m = /[?&]partNumber=(\d+)/.exec(r.url);
    return r.method === 'PUT' && m !== null ? [Number(m[1])] : [];
  });
}

describe('uploads refuse a source that is not the blob', () => {
  it('a small file whose bytes do not hash to the sha is never sent', async () => {
    const w = world();
    const objects = w.open();
    const f = await w.file(1000);
    const wrong = sha256(Buffer.from('something else'));
    await expect(objects.putBlob(wrong, 1000, f.path)).rejects.toThrow(FileChangedError);
    expect(w.proxy.requests().map((r) => r.method)).toEqual(['HEAD']);
    expect(await w.server.storedObjects(w.bucket)).toEqual([]);
  });

  it('a file of another size is refused before any upload starts', async () => {
    const w = world();
    const objects = w.open();
    const f = await w.file(3 * PART);
    await expect(objects.putBlob(f.sha, 3 * PART + 1, f.path)).rejects.toThrow(/size 15728641 -> 15728640/);
    expect(w.proxy.requests().map((r) => r.method)).toEqual(['HEAD']);
  });

  it('a file rewritten during a multipart upload stops it at the next part; the upload is aborted', async () => {
    const w = world();
    // One part at a time, so the change (or stall) lands between two parts.
    const objects = w.open({ partParallel: 1 });
    const f = await w.file(2 * PART + 100);
    await fsp.utimes(f.path, PAST, PAST);
    const states: (UploadState | null)[] = [];
    const put = objects.putBlob(f.sha, f.data.length, f.path, {
      onState: (s) => {
        states.push(s);
        if (s?.parts.length === 1) fs.writeFileSync(f.path, Buffer.alloc(f.data.length, 7));
      },
    });
    await expect(put).rejects.toThrow(FileChangedError);
    expect(partsSent(w)).toEqual([1]);
    expect(states[states.length - 1]).toBeNull();
    expect(w.proxy.requests().some((r) => r.method === 'DELETE' && r.url.includes('uploadId='))).toBe(true);
    expect(await w.server.pendingUploads(w.bucket)).toEqual([]);
    expect(await w.server.storedObjects(w.bucket)).toEqual([]);
  });

  it('bytes changed behind an unchanged mtime are caught by the sha256 before the last part goes', async () => {
    const w = world();
    // One part at a time, so the change (or stall) lands between two parts.
    const objects = w.open({ partParallel: 1 });
    const f = await w.file(2 * PART + 100);
    await fsp.utimes(f.path, PAST, PAST);
    const put = objects.putBlob(f.sha, f.data.length, f.path, {
      onState: async (s) => {
        if (s?.parts.length !== 1) return;
        // Change one byte of the last part and put the mtime back: only the hash can tell.
        const fh = await fsp.open(f.path, 'r+');
        await fh.write(Buffer.from([f.data[2 * PART + 50]! ^ 0xff]), 0, 1, 2 * PART + 50);
        await fh.close();
        await fsp.utimes(f.path, PAST, PAST);
      },
    });
    await expect(put).rejects.toThrow(/sha256 [0-9a-f]{64} -> [0-9a-f]{64}/);
    expect(partsSent(w)).toEqual([1, 2]);
    expect(await w.server.pendingUploads(w.bucket)).toEqual([]);
    expect(await w.server.storedObjects(w.bucket)).toEqual([]);
    expect(await objects.hasBlob(f.sha, f.data.length)).toBe(false);
  });
});

describe('parts sent a few at a time', () => {
  it('overlap, and the blob stored is the file, byte for byte', async () => {
    const w = world();
    // A capped link: each part takes a while, so the next ones are already under way.
    const objects = w.open({}, { ...w.target, bandwidth: 40 * 1024 * 1024 });
    const f = await w.file(4 * PART + 100);
    let partRequestsAtFirstAck = 0;
    const put = await objects.putBlob(f.sha, f.data.length, f.path, {
      onState: (s) => {
        if (s?.parts.length === 1) partRequestsAtFirstAck = partsSent(w).length;
      },
    });
    expect(put.outcome).toBe('uploaded');
    expect(partRequestsAtFirstAck).toBeGreaterThanOrEqual(2);
    expect([...partsSent(w)].sort()).toEqual([1, 2, 3, 4, 5]);
    expect(await badBlobs(w.server, w.bucket, 'ckptd/')).toEqual([]);
    expect(await objects.hasBlob(f.sha, f.data.length)).toBe(true);
  });

  it('the last part waits for the whole sha256: bytes that do not hash to the key never complete', async () => {
    const w = world();
    const objects = w.open();
    const f = await w.file(4 * PART + 100);
    // One byte of part 2 changed before the upload, the mtime put back: only the hash can tell.
    const fh = await fsp.open(f.path, 'r+');
    await fh.write(Buffer.from([f.data[PART + 7]! ^ 0xff]), 0, 1, PART + 7);
    await fh.close();
    await fsp.utimes(f.path, PAST, PAST);
    await expect(objects.putBlob(f.sha, f.data.length, f.path)).rejects.toThrow(/sha256 [0-9a-f]{64} -> [0-9a-f]{64}/);
    expect(partsSent(w)).not.toContain(5);
    expect(await w.server.pendingUploads(w.bucket)).toEqual([]);
    expect(await w.server.storedObjects(w.bucket)).toEqual([]);
  });
});

describe('downloads refuse a damaged object', () => {
  it.each([
    ['the same size', (d: Buffer) => Buffer.concat([d.subarray(0, 10), Buffer.from([d[10]! ^ 1]), d.subarray(11)])],
    ['another size', (d: Buffer) => d.subarray(1)],
  ])('wrong bytes of %s under the key: no file, no temp file, the old file untouched', async (_what, damage) => {
    const w = world();
    const objects = w.open();
    const f = await w.file(200_000);
    await w.rawPut(blobKey(w.target, f.sha), damage(f.data));
    expect(await badBlobs(w.server, w.bucket, 'ckptd/')).toEqual([blobKey(w.target, f.sha)]);

    const dir = path.join(w.tmp, 'restore');
    await fsp.mkdir(dir);
    await expect(objects.downloadBlob(f.sha, path.join(dir, 'new.bin'))).rejects.toThrow(BlobCorruptError);
    expect(await fsp.readdir(dir)).toEqual([]);

    await fsp.writeFile(path.join(dir, 'old.bin'), 'old content');
    await expect(objects.downloadBlob(f.sha, path.join(dir, 'old.bin'))).rejects.toThrow(/is damaged: its \d+ bytes hash to [0-9a-f]{64}, not to its key/);
    expect(await fsp.readdir(dir)).toEqual(['old.bin']);
    expect(await fsp.readFile(path.join(dir, 'old.bin'), 'utf8')).toBe('old content');
  });

  it('openBlob errors instead of ending when the bytes do not hash to the key', async () => {
    const w = world();
    const objects = w.open();
    const good = Buffer.from('the real content');
    await w.rawPut(blobKey(w.target, sha256(good)), Buffer.from('a forged content'));
    await expect(text(await objects.openBlob(sha256(good)))).rejects.toThrow(BlobCorruptError);
  });

  it('a blob that is not there is a clear error, and no file appears', async () => {
    const w = world();
    const objects = w.open();
    const sha = sha256(Buffer.from('never stored'));
    await expect(objects.downloadBlob(sha, path.join(w.tmp, 'x'))).rejects.toThrow(/GetObject s3:\/\/.*\/ckptd\/blobs\/sha256\/.* failed \(404 NoSuchKey/);
    expect(await fsp.readdir(w.tmp)).toEqual([]);
  });
});
