/**
 * A store's headers are listed after every backup (retention): a manifest this process already
 * read and checked is not read again while its `snapshot.json` is the same file, and any change to
 * that file is seen at the next listing.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CheckedHeaders, MAX_HEADER_CHARS, MAX_KEPT, MAX_KEPT_CHARS, SETTLED_MS } from '../../src/store/checked-headers.js';
import { writeLabels } from '../../src/store/labels.js';
import { listSnapshotHeaders, newestGoodHeader } from '../../src/store/read-store.js';
import { put, runAndStore, snap } from './fixtures.js';

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** Counts the opens of any `snapshot.json` from now on. */
function countManifestOpens(): () => number {
  const open = vi.spyOn(fsp, 'open');
  return () => open.mock.calls.filter(([file]) => String(file).endsWith('snapshot.json')).length;
}

/** Moves this process's clock `ms` ahead (only `Date`): the files written so far are that much older. */
function later(ms: number): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + ms);
}

async function twoSnapshots() {
  const { run, store } = await runAndStore();
  put(run, 'a.bin', 'a');
  const t = Date.now();
  const one = await snap(run, store, { now: t });
  put(run, 'b.bin', 'b');
  const two = await snap(run, store, { now: t + 1000 });
  return { store, one, two };
}

describe('listing headers twice', () => {
  it('does not read a settled manifest again, and gives the same headers', async () => {
    const { store, one, two } = await twoSnapshots();
    later(SETTLED_MS + 1000);
    const first = await listSnapshotHeaders(store);
    const opens = countManifestOpens();
    const second = await listSnapshotHeaders(store);
    expect(opens()).toBe(0);
    expect(second).toEqual(first);
    expect(second.map((h) => h.id)).toEqual([two.id, one.id]);
    expect((await newestGoodHeader(store))!.id).toBe(two.id);
    expect(opens()).toBe(0);
  });

  it('reads a manifest written in the last moments again every time (coarse timestamps could hide a rewrite)', async () => {
    const { store } = await twoSnapshots();
    await listSnapshotHeaders(store);
    const opens = countManifestOpens();
    await listSnapshotHeaders(store);
    expect(opens()).toBe(2);
  });

  it('sees a label edit at the next listing', async () => {
    const { store, one } = await twoSnapshots();
    later(SETTLED_MS + 1000);
    await listSnapshotHeaders(store);
    await writeLabels(store, one.id, one.kind, { notes: 'the good epoch', pinned: true });
    const listed = (await listSnapshotHeaders(store)).find((h) => h.id === one.id)!;
    expect(listed.notes).toBe('the good epoch');
    expect(listed.pinned).toBe(true);
  });

  it('sees a manifest damaged in place at the next listing: that folder is no longer a snapshot', async () => {
    const { store, one, two } = await twoSnapshots();
    later(SETTLED_MS + 1000);
    expect((await listSnapshotHeaders(store)).map((h) => h.id)).toEqual([two.id, one.id]);
    const file = path.join(store, 'snapshots', two.id, 'snapshot.json');
    fs.chmodSync(file, 0o600);
    const text = fs.readFileSync(file, 'utf8');
    // Same size, same inode: only the mtime and ctime tell.
    fs.writeFileSync(file, text.replace('"a.bin"', '"../ab"'));
    expect(fs.statSync(file).size).toBe(Buffer.byteLength(text));
    expect((await listSnapshotHeaders(store)).map((h) => h.id)).toEqual([one.id]);
    expect((await newestGoodHeader(store))!.id).toBe(one.id);
  });

  it('hands out copies: a caller changing what it was given changes nothing for the next one', async () => {
    const { store, two } = await twoSnapshots();
    later(SETTLED_MS + 1000);
    await listSnapshotHeaders(store);
    const given = (await listSnapshotHeaders(store)).find((h) => h.id === two.id)!;
    given.metrics.loss = 99;
    given.notes = 'changed by a caller';
    const next = (await listSnapshotHeaders(store)).find((h) => h.id === two.id)!;
    expect(next.metrics).toEqual({});
    expect(next.notes).toBeNull();
  });
});

describe('CheckedHeaders: bounded', () => {
  const id = (key: string) => ({ key, changedMs: 0 });

  it('forgets what a listing no longer holds, and keeps at most MAX_KEPT', () => {
    const kept = new CheckedHeaders<number>();
    kept.set('/s/snapshots/a/snapshot.json', id('1'), 1, SETTLED_MS);
    kept.set('/s/snapshots/b/snapshot.json', id('2'), 2, SETTLED_MS);
    kept.set('/t/snapshots/a/snapshot.json', id('3'), 3, SETTLED_MS);
    kept.keepOnlyUnder('/s/snapshots', new Set(['/s/snapshots/b/snapshot.json']));
    expect(kept.get('/s/snapshots/a/snapshot.json', id('1'))).toBeUndefined();
    expect(kept.get('/s/snapshots/b/snapshot.json', id('2'))).toBe(2);
    expect(kept.get('/t/snapshots/a/snapshot.json', id('3'))).toBe(3);

    for (let i = 0; i < MAX_KEPT + 10; i++) kept.set(`/u/${i}`, id(String(i)), i, SETTLED_MS);
    expect(kept.size).toBe(MAX_KEPT);
    expect(kept.get(`/u/${MAX_KEPT + 9}`, id(String(MAX_KEPT + 9)))).toBe(MAX_KEPT + 9);
  });

  it('never keeps a header of a huge skipped list, and keeps MAX_KEPT_CHARS of headers at most', () => {
    const kept = new CheckedHeaders<{ skipped: string[] }>();
    // An incomplete snapshot of a run whose 100,000 files never settled.
    const huge = { skipped: Array.from({ length: 100_000 }, (_, i) => `data/shard-${i}.bin`) };
    kept.set('/s/snapshots/a/snapshot.json', id('1'), huge, SETTLED_MS);
    expect(kept.size).toBe(0);

    const big = { skipped: ['x'.repeat(MAX_HEADER_CHARS - 100)] };
    const fit = Math.floor(MAX_KEPT_CHARS / MAX_HEADER_CHARS);
    for (let i = 0; i < fit + 5; i++) kept.set(`/s/snapshots/${i}/snapshot.json`, id(String(i)), big, SETTLED_MS);
    expect(kept.size).toBeLessThanOrEqual(fit);
    expect(kept.size).toBeGreaterThan(fit - 2);
    expect(kept.get(`/s/snapshots/${fit + 4}/snapshot.json`, id(String(fit + 4)))).toEqual(big);
    expect(kept.get('/s/snapshots/0/snapshot.json', id('0'))).toBeUndefined();
  });
});
