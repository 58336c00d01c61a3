/**
 * A snapshot that retention deletes while the store is being listed simply is not listed: it is
 * not reported as a broken folder (which `status` warns about and `verify` fails on).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deleteSnapshot } from '../../src/store/delete-snapshot.js';
import { snapshotsDir } from '../../src/store/layout.js';
import { storeOf } from '../../src/store/local-store.js';
import { put, runAndStore, snap } from './fixtures.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('listing a store while a snapshot is deleted', () => {
  it('leaves the deleted one out and reports nothing broken', async () => {
    const { run, store } = await runAndStore();
    put(run, 'model.pt', 'epoch 1');
    const old = await snap(run, store);
    put(run, 'model.pt', 'epoch 2');
    const kept = await snap(run, store);
    // The daemon's retention removes `old` right after the listing read the folder's names.
    const readdir = fsp.readdir.bind(fsp) as (p: string) => Promise<string[]>;
    vi.spyOn(fsp, 'readdir').mockImplementation((async (p: string, ...rest: unknown[]) => {
      const names = await (readdir as (...a: unknown[]) => Promise<string[]>)(p, ...rest);
      if (path.resolve(p.toString()) === path.resolve(snapshotsDir(store)) && names.includes(old.id)) await deleteSnapshot(store, old.id);
      return names;
    }) as typeof fsp.readdir);

    const s = storeOf(store);
    expect(await s.findBroken()).toEqual([]);
    expect((await s.listSnapshotHeaders()).map((h) => h.id)).toEqual([kept.id]);
  });
});
