/**
 * Issue 11 item 14: a snapshot that left files out is `incomplete` (in snapshot.json and from the
 * readers) and is never the newest good snapshot: not the link source, not the protected backup,
 * and its state never counts as stored.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listSnapshots, newestGoodSnapshot, readSnapshot } from '../../src/store/read-store.js';
import { put, runAndStore, scanAll, snap } from './fixtures.js';

describe('incomplete snapshots', () => {
  it('are marked incomplete and skipped by newestGoodSnapshot', async () => {
    const { run, store } = await runAndStore();
    put(run, 'model.bin', 'weights');
    put(run, 'optimizer.pt', 'optim');
    const complete = await snap(run, store, { now: Date.now() - 1000 });
    expect(complete.incomplete).toBe(false);
    // The optimizer file vanishes between the scan and the capture: it is left out.
    const entries = await scanAll(run, store);
    fs.rmSync(path.join(run, 'optimizer.pt'));
    const partial = await snap(run, store, { entries, previous: complete });
    expect(partial.skipped.map((s) => s.path)).toEqual(['optimizer.pt']);
    expect(partial.incomplete).toBe(true);
    const onDisk = JSON.parse(fs.readFileSync(path.join(store, 'snapshots', partial.id, 'snapshot.json'), 'utf8')) as { incomplete?: boolean };
    expect(onDisk.incomplete).toBe(true);

    expect((await listSnapshots(store)).map((s) => [s.id, s.incomplete])).toEqual([
      [partial.id, true],
      [complete.id, false],
    ]);
    expect((await readSnapshot(store, partial.id)).incomplete).toBe(true);
    expect((await newestGoodSnapshot(store))?.id).toBe(complete.id);
  });

  it('a snapshot.json written before the field existed is incomplete when its skipped list is not empty', async () => {
    const { run, store } = await runAndStore();
    put(run, 'model.bin', 'weights');
    const meta = await snap(run, store);
    const file = path.join(store, 'snapshots', meta.id, 'snapshot.json');
    const old = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    delete old.incomplete;
    old.skipped = [{ path: 'x.pt', reason: 'kept changing' }];
    fs.chmodSync(file, 0o644);
    fs.writeFileSync(file, JSON.stringify(old));
    expect((await readSnapshot(store, meta.id)).incomplete).toBe(true);
    expect(await newestGoodSnapshot(store)).toBeNull();
  });
});
