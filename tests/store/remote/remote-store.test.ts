/**
 * The remote store beyond the conformance suite, against a real S3 API server behind the fault
 * proxy: pushing records of a real local store (only changed blobs go up; the manifest appears only
 * once every blob exists, and an interrupted push resumes without resending finished parts),
 * garbage collection across runs with a grace period, and runs that do not see each other. The
 * server's disk is checked by the oracle.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { markInUse } from '../../../src/store/remote/remote-gc.js';
import { openRemoteStore, listRemoteRuns, type RemoteStore } from '../../../src/store/remote/remote-store.js';
import type { S3ObjectsOptions } from '../../../src/store/remote/s3-objects.js';
import { blobKey, lockKey } from '../../../src/store/remote/s3-target.js';
import type { UploadState } from '../../../src/store/remote/upload-state.js';
import type { SnapshotMeta } from '../../../src/store/types.js';
import { badBlobs, sha256 } from '../../helpers/s3-oracle.js';
import { PART, remoteWorld, type RemoteWorld } from '../../helpers/remote-world.js';
import { age, put, runAndStore, snap } from '../fixtures.js';

const world = remoteWorld();
const HOUR = 3600_000;

/** A remote store of run `run` in the world's bucket, through the proxy. */
function remote(w: RemoteWorld, run = 'r', opts: S3ObjectsOptions = {}): RemoteStore {
  return openRemoteStore({ objects: w.open(opts), run, scratchDir: path.join(w.tmp, `scratch-${run}`) });
}

/** A local run and store, with `files` written (and aged, so they are settled). */
async function localRun(files: Record<string, string | Buffer>): Promise<{ run: string; store: string }> {
  const { run, store } = await runAndStore();
  for (const [rel, content] of Object.entries(files)) age(put(run, rel, content));
  return { run, store };
}

/** The keys the server holds under the run's records folder. */
async function recordKeys(w: RemoteWorld): Promise<string[]> {
  return (await w.server.storedObjects(w.bucket)).map((o) => o.key).filter((k) => k.startsWith('ckptd/runs/'));
}

/** The part numbers of the UploadPart requests among `requests`. */
function partNumbers(requests: { method: string; url: string }[]): number[] {
  return requests.flatMap((q) => {
    const m = /[?&]partNumber=(\d+)/.exec(q.url);
    return q.method === 'PUT' && m !== null ? [Number(m[1])] : [];
  });
}

describe('putRecord', () => {
  it('uploads the blobs and then the manifest; a second record sends only its changed files', async () => {
    const w = world();
    const { run, store } = await localRun({ 'model.bin': 'weights v1 '.repeat(1000), 'opt.bin': 'optimizer v1' });
    fs.symlinkSync('model.bin', path.join(run, 'latest'));
    const first = await snap(run, store);
    const rs = remote(w);

    const one = await rs.putRecord(store, first);
    expect(one).toMatchObject({ sentBytes: 11_000 + 12, presentBytes: 0 });
    expect(one.meta).toMatchObject({ id: first.id, copied_bytes: 11_012, linked_bytes: 0, path: `s3://${w.bucket}/ckptd/runs/r/snapshots/${first.id}.json` });
    expect((one.meta as SnapshotMeta).files).toEqual(first.files);
    expect(await rs.readLink(one.meta, 'latest')).toBe('model.bin');

    age(put(run, 'opt.bin', 'optimizer v2!'));
    const second = await snap(run, store, { previous: first });
    const upBefore = w.proxy.bytesUp();
    const two = await rs.putRecord(store, second);
    expect(two).toMatchObject({ sentBytes: 13, presentBytes: 11_000 });
    expect(two.meta).toMatchObject({ copied_bytes: 13, linked_bytes: 11_000 });
    // The unchanged 11 kB file did not cross the wire again: the manifest and a few headers did.
    expect(w.proxy.bytesUp() - upBefore).toBeLessThan(11_000);

    expect((await rs.listSnapshots()).map((s) => s.id)).toEqual([second.id, first.id]);
    expect((await rs.verify(await rs.resolve(second.id))).ok).toBe(true);
    expect(await badBlobs(w.server, w.bucket, 'ckptd/')).toEqual([]);
    // Three blobs: the symlink has none.
    expect((await w.server.storedObjects(w.bucket)).filter((o) => o.key.startsWith('ckptd/blobs/'))).toHaveLength(3);
  });

  it('a blob found stored but collected by another machine before the manifest named it is sent again', async () => {
    const w = world();
    const { run, store } = await localRun({ 'model.bin': 'shared weights', 'opt.bin': 'optimizer v1' });
    const first = await snap(run, store);
    await remote(w).putRecord(store, first);
    await remote(w).remove(first.id);
    age(put(run, 'opt.bin', 'optimizer v2'));
    const second = await snap(run, store, { previous: first });
    const shared = second.files.find((f) => f.path === 'model.bin')!.sha256;
    // Another machine's garbage collection runs between the HEAD that found the blob and this manifest.
    const objects = w.open();
    const racing = { ...objects, putJson: async (key: Parameters<typeof objects.putJson>[0], value: unknown, signal?: AbortSignal) => {
      if ((await objects.listBlobs()).some((b) => b.sha === shared)) await objects.deleteKey(blobKey(objects.target, shared));
      return objects.putJson(key, value, signal);
    } };
    const rs = openRemoteStore({ objects: racing, run: 'r', scratchDir: path.join(w.tmp, 'scratch-race') });
    const r = await rs.putRecord(store, second);
    expect(r.sentBytes).toBeGreaterThanOrEqual('shared weights'.length);
    expect(await objects.hasBlob(shared, 'shared weights'.length)).toBe(true);
    expect((await rs.verifyExists(await rs.resolve(second.id))).ok).toBe(true);
  });

  it('recordIds lists the run\'s records from one listing, markers left out', async () => {
    const w = world();
    const { run, store } = await localRun({ 'model.bin': 'm1' });
    const a = await snap(run, store);
    age(put(run, 'model.bin', 'm2'));
    const b = await snap(run, store, { previous: a });
    const rs = remote(w);
    await rs.putRecord(store, a);
    await rs.putRecord(store, b);
    const check = await rs.verify(await rs.resolve(a.id));
    await rs.markVerified({ ...check, ok: false, changed: [{ path: 'model.bin', reason: 'test' }] }, Date.now());
    const before = w.proxy.requests().length;
    expect(await rs.recordIds()).toEqual(new Set([a.id, b.id]));
    // Listings only: no manifest is read.
    expect(w.proxy.requests().slice(before).every((q) => q.method === 'GET' && q.url.includes('list-type=2'))).toBe(true);
  });

  it('blobs the caller knows a remote manifest names are neither asked for nor checked again', async () => {
    const w = world();
    const { run, store } = await localRun({ 'model.bin': 'frozen encoder', 'opt.bin': 'optimizer v1' });
    const first = await snap(run, store);
    const rs = remote(w);
    await rs.putRecord(store, first);
    age(put(run, 'opt.bin', 'optimizer v2'));
    const second = await snap(run, store, { previous: first });
    const known = new Set(first.files.map((f) => f.sha256));
    const before = w.proxy.requests().length;
    const r = await rs.putRecord(store, second, { known });
    const heads = w.proxy.requests().slice(before).filter((q) => q.method === 'HEAD');
    // One HEAD: the changed file's blob, asked before it is sent; none for the known one, before or after.
    expect(heads).toHaveLength(1);
    expect(r).toMatchObject({ sentBytes: 'optimizer v2'.length, presentBytes: 'frozen encoder'.length });
    expect((await rs.verifyExists(await rs.resolve(second.id))).ok).toBe(true);
  });

  it('is idempotent: a record already there is left as is, its labels brought in line', async () => {
    const w = world();
    const { run, store } = await localRun({ 'model.bin': 'weights' });
    const meta = await snap(run, store);
    const rs = remote(w);
    await rs.putRecord(store, meta);
    const before = w.proxy.requests().length;
    // Its manifest, then each blob asked for (an earlier push may have stopped before resending one), nothing sent.
    expect(await rs.putRecord(store, meta)).toMatchObject({ sentBytes: 0, presentBytes: 'weights'.length });
    expect(w.proxy.requests().slice(before).map((q) => q.method)).toEqual(['GET', 'HEAD']);
    const relabelled = await rs.putRecord(store, { ...meta, name: 'best', pinned: true });
    expect(relabelled.meta).toMatchObject({ name: 'best', pinned: true });
    expect(await rs.resolve(meta.id)).toMatchObject({ name: 'best', pinned: true, damaged: false });
    await expect(rs.putRecord(store, { ...meta, files: [] })).rejects.toThrow(/already holds a snapshot .* with other files/);
  });

  it('writes no manifest until every blob exists; a retry with the persisted states resends no finished part', async () => {
    const w = world();
    const big = Buffer.alloc(2 * PART + 10, 7);
    big.write('not all sevens');
    const { run, store } = await localRun({ 'big.bin': big, 'small.bin': 'small' });
    const meta = await snap(run, store);
    const states: Record<string, UploadState> = {};
    const onState = async (sha: string, s: UploadState | null): Promise<void> => {
      if (s === null) delete states[sha];
      else states[sha] = s;
    };

    w.proxy.inject({ kind: 'drop', direction: 'request', afterBytes: 100, match: { method: 'PUT', url: /[?&]partNumber=2&/ } });
    await expect(remote(w, 'r', { retry: { attempts: 1 } }).putRecord(store, meta, { onState })).rejects.toThrow();
    expect(await recordKeys(w)).toEqual([]);
    expect(await remote(w).listSnapshots()).toEqual([]);
    const bigSha = sha256(big);
    expect(Object.keys(states)).toEqual([bigSha]);
    expect(states[bigSha]!.parts.map((p) => p.number)).toEqual([1]);

    const before = w.proxy.requests().length;
    const done = await remote(w).putRecord(store, meta, { resume: { ...states }, onState });
    expect(partNumbers(w.proxy.requests().slice(before))).toEqual([2, 3]);
    expect(done.sentBytes).toBe(PART + 10);
    expect(states).toEqual({});
    expect(await recordKeys(w)).toEqual([`ckptd/runs/r/snapshots/${meta.id}.json`]);
    expect(await badBlobs(w.server, w.bucket, 'ckptd/')).toEqual([]);
    expect(await w.server.pendingUploads(w.bucket)).toEqual([]);
  });
});

describe('collectGarbage', () => {
  /** Makes the blob `sha`'s LastModified `msAgo` in the past, on the server's disk. */
  async function backdate(w: RemoteWorld, sha: string, msAgo: number): Promise<void> {
    const found = (await w.server.storedObjects(w.bucket)).find((o) => o.key === `ckptd/blobs/sha256/${sha.slice(0, 2)}/${sha}`)!;
    const t = new Date(Date.now() - msAgo);
    await fsp.utimes(found.file, t, t);
  }

  it('deletes only unreferenced blobs older than the grace, never one another run names, never a young one', async () => {
    const w = world();
    const { run, store } = await localRun({ 'only-a.bin': 'only in run a', 'shared.bin': 'in both runs' });
    const a = await snap(run, store);
    const ra = remote(w, 'a');
    const rb = remote(w, 'b');
    await ra.putRecord(store, a);
    await rb.putRecord(store, { ...a, files: a.files.filter((f) => f.path === 'shared.bin') });
    const orphanYoung = await w.file(100);
    await ra.objects.putBlob(orphanYoung.sha, 100, orphanYoung.path);
    const shaOf = (p: string): string => a.files.find((f) => f.path === p)!.sha256;
    for (const sha of [shaOf('only-a.bin'), shaOf('shared.bin')]) await backdate(w, sha, 2 * HOUR);

    // Run a's record still names both: nothing goes.
    expect(await ra.collectGarbage(HOUR, Date.now())).toEqual({ removed: [], removedBytes: 0, keptYoung: 1 });
    await ra.remove(a.id);
    const dry = await ra.collectGarbage(HOUR, Date.now(), { dryRun: true });
    const onlyA = `s3://${w.bucket}/ckptd/blobs/sha256/${shaOf('only-a.bin').slice(0, 2)}/${shaOf('only-a.bin')}`;
    expect(dry).toEqual({ removed: [onlyA], removedBytes: 13, keptYoung: 1 });
    expect(await ra.objects.hasBlob(shaOf('only-a.bin'), 13)).toBe(true);

    expect(await rb.collectGarbage(HOUR, Date.now())).toEqual(dry);
    expect(await ra.objects.hasBlob(shaOf('only-a.bin'), 13)).toBe(false);
    expect(await rb.objects.hasBlob(shaOf('shared.bin'), 12)).toBe(true);
    expect(await ra.objects.hasBlob(orphanYoung.sha, 100)).toBe(true);
    expect((await rb.verify((await rb.listSnapshots())[0]!)).ok).toBe(true);
  });

  it('an old in-use mark whose blob is gone goes; a young one stays', async () => {
    const w = world();
    const rs = remote(w);
    const [old, young] = [sha256(Buffer.from('gone long ago')), sha256(Buffer.from('gone just now'))];
    await markInUse(rs.objects, [old, young]);
    const oldMark = (await w.server.storedObjects(w.bucket)).find((o) => o.key === `ckptd/in-use/${old}`)!;
    const t = new Date(Date.now() - 2 * HOUR);
    await fsp.utimes(oldMark.file, t, t);
    expect(await rs.collectGarbage(HOUR, Date.now())).toEqual({ removed: [], removedBytes: 0, keptYoung: 0 });
    expect((await w.server.storedObjects(w.bucket)).map((o) => o.key)).toEqual([`ckptd/in-use/${young}`]);
  });

  it('aborts abandoned multipart uploads older than the grace, and keeps young ones', async () => {
    const w = world();
    const { run, store } = await localRun({ 'big.bin': Buffer.alloc(PART + 10, 1) });
    const meta = await snap(run, store);
    w.proxy.inject({ kind: 'drop', direction: 'request', afterBytes: 100, match: { method: 'PUT', url: /[?&]partNumber=2&/ } });
    await expect(remote(w, 'r', { retry: { attempts: 1 } }).putRecord(store, meta)).rejects.toThrow();
    const [upload] = await w.server.pendingUploads(w.bucket);
    const rs = remote(w);
    expect((await rs.collectGarbage(HOUR, Date.now())).removed).toEqual([]);
    await w.server.backdateUpload(w.bucket, upload!, new Date(Date.now() - 2 * HOUR));
    expect((await rs.collectGarbage(HOUR, Date.now())).removed).toEqual([expect.stringMatching(new RegExp(`\\(upload ${upload}\\)$`))]);
    expect(await w.server.pendingUploads(w.bucket)).toEqual([]);
  });
});

describe('runs', () => {
  it('two runs in one bucket do not see each other, and are both listed', async () => {
    const w = world();
    const { run, store } = await localRun({ 'model.bin': 'weights' });
    const s1 = await snap(run, store);
    const s2 = await snap(run, store);
    const ra = remote(w, 'a');
    const rb = remote(w, 'b');
    await ra.putRecord(store, s1);
    await rb.putRecord(store, s2);
    expect((await ra.listSnapshots()).map((s) => s.id)).toEqual([s1.id]);
    expect((await rb.listSnapshots()).map((s) => s.id)).toEqual([s2.id]);
    await expect(ra.resolve(s2.id)).rejects.toThrow(/no snapshot or save matches/);
    await expect(ra.remove(s2.id)).rejects.toThrow(`no snapshot or save ${s2.id} in ${ra.location}`);
    expect(ra.location).toBe(`s3://${w.bucket}/ckptd/runs/a/`);
    expect(await listRemoteRuns(ra.objects)).toEqual(['a', 'b']);
  });
});

describe('the lease', () => {
  const info = { pid: 1, host: 'other-host', since: '2026-11-23T10:00:00.000Z', command: 'daemon' };

  it('an expired lease is taken over; a lease taken over is not removed by the old holder', async () => {
    const w = world();
    const rs = remote(w);
    const key = lockKey(rs.objects.target, 'r');
    await rs.objects.putJson(key, { ...info, token: 'old', expires: new Date(Date.now() - 1000).toISOString() });
    expect(await rs.lockHolder()).toMatchObject({ ...info, alive: false });
    const lock = await rs.lock({ ...info, host: 'h', command: 'push' });
    expect(await rs.lockHolder()).toMatchObject({ command: 'push', alive: true });
    // Someone else's lease replaces ours (a takeover): our release leaves it and still fires our signal.
    await rs.objects.putJson(key, { ...info, token: 'new', expires: new Date(Date.now() + 60_000).toISOString() });
    await lock.release();
    expect(lock.signal.aborted).toBe(true);
    expect(await rs.lockHolder()).toMatchObject({ command: 'daemon', alive: true });
    await expect(rs.lock({ ...info, command: 'push' })).rejects.toThrow(/in use by ckptd daemon pid 1 on host other-host/);
  });
});
