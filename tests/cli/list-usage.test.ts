/**
 * `ckptd list`'s OWN column (what deleting a record alone frees) and the store usage line, now
 * computed in one pass that holds one manifest at a time: files shared by hard link between
 * snapshots belong to neither, each inode counts once on disk, and `--kind` filters the list, not
 * the usage.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listRecords, listRecordsAndUsage, storeUsage } from '../../src/client/list.js';
import { loadConfigFile } from '../../src/config/load.js';
import { planDelete } from '../../src/ops/delete.js';
import { age, put, runAndStore, snap } from '../store/fixtures.js';

describe('list: own bytes and store usage', () => {
  it('counts shared files for neither record, each inode once on disk, and filters by kind only the list', async () => {
    const { base, run, store } = await runAndStore();
    age(put(run, 'a.bin', 'a'.repeat(1000)));
    age(put(run, 'b.bin', 'b'.repeat(2000)));
    const first = await snap(run, store, { now: Date.now() - 2000, kind: 'backup' });
    age(put(run, 'b.bin', 'B'.repeat(3000)));
    const second = await snap(run, store, { now: Date.now() - 1000, kind: 'manual', previous: first });
    const cfg = path.join(base, 'ckptd.yaml');
    fs.writeFileSync(cfg, `runs:\n  - name: r\n    path: ${run}\n    store: ${store}\n    progress: none\n`);
    const runConfig = loadConfigFile(cfg).runs[0]!;
    const json = (id: string): number => fs.statSync(path.join(store, 'snapshots', id, 'snapshot.json')).size;
    // a.bin is one inode shared by both snapshots.
    expect(fs.statSync(path.join(first.path, 'a.bin')).ino).toBe(fs.statSync(path.join(second.path, 'a.bin')).ino);

    const { records, usage } = await listRecordsAndUsage(runConfig, undefined);
    expect(records.map((r) => [r.id, r.own_bytes])).toEqual([
      [second.id, 3000 + json(second.id)],
      [first.id, 2000 + json(first.id)],
    ]);
    for (const r of records) expect(r.own_bytes, 'what deleting it alone frees').toBe((await planDelete(store, [r.id], true)).freedBytes);
    expect(records.some((r) => 'files' in r)).toBe(false);
    expect(usage).toEqual({ records: 2, diskBytes: 1000 + 2000 + 3000 + json(first.id) + json(second.id), apparentBytes: 3000 + 4000 });

    const backups = await listRecords(runConfig, 'backup');
    expect(backups.map((r) => r.id)).toEqual([first.id]);
    expect((await listRecordsAndUsage(runConfig, 'backup')).usage, 'the usage is the whole store\'s, whatever is listed').toEqual(usage);
    expect(await storeUsage(runConfig)).toEqual(usage);
  });
});
