/**
 * What a capture holds per file of a run with many files (issue 15: peak RSS under 200 MB whatever
 * the file count). The heap a value keeps alive is measured after full collections, on 10,000
 * files written once each, as a trainer writes them (mtime and ctime equal). The bounds are what
 * the values cannot do without (an object per entry, its path, times and digest) plus a margin;
 * a string held twice where one would do is 40-56 bytes a file over.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSnapshot } from '../../src/store/read-store.js';
import { scanState } from '../../src/store/scan.js';
import { storeOf } from '../../src/store/local-store.js';
import type { ScanEntry } from '../../src/store/types.js';
import { snap } from './fixtures.js';

const FILES = 10_000;

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap bytes in use after full collections. */
function heapAlive(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Heap bytes per file that `make`'s result keeps alive (measured while it is held). */
async function heldPerFile<T>(make: () => Promise<T>): Promise<{ perFile: number; value: T }> {
  // Once first and dropped: what the first call leaves for good (compiled code, inline caches,
  // module caches) is not what the value holds.
  await make();
  const before = heapAlive();
  const value = await make();
  const after = heapAlive();
  return { perFile: (after - before) / FILES, value };
}

/** Written in one go, as a trainer writes its files: the mtime and ctime are the same instant. */
function writeFiles(run: string): void {
  for (let i = 0; i < FILES; i++) {
    const dir = path.join(run, 'cache', `shard-${String(Math.floor(i / 1000)).padStart(4, '0')}`);
    if (i % 1000 === 0) fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `item-${String(i).padStart(7, '0')}.json`), `{"item": ${i}}`);
  }
}

const scanOf = (run: string, store: string): Promise<ScanEntry[]> => scanState(run, { include: ['**/*'], exclude: [], excludeAbs: [store] });

describe('memory held per file of a run of many files', () => {
  // One run and snapshot for all the tests (the fixtures' folders go after each test).
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-store-test-'));
  const run = path.join(base, 'run');
  const store = path.join(base, 'store');
  let id: string;

  afterAll(() => fs.rmSync(base, { recursive: true, force: true }));
  beforeAll(async () => {
    writeFiles(run);
    id = (await snap(run, store, { entries: await scanOf(run, store), settleMs: 0 })).id;
  }, 60_000);

  it('a scan holds one string for a file whose mtime and ctime are the same instant', async () => {
    const { perFile, value } = await heldPerFile(() => scanOf(run, store));
    expect(value).toHaveLength(FILES);
    // Precondition of the bound: the files were written once.
    expect(value.filter((e) => e.ctimeNs === e.mtimeNs)).toHaveLength(FILES);
    // An entry (80), its path (56), one time string (40), its slot in the array (8): 184; 224 with a second time string.
    expect(perFile).toBeLessThan(205);
  });

  it('a snapshot read back holds one string for a file whose mtime and ctime are the same', async () => {
    const { perFile, value } = await heldPerFile(() => readSnapshot(store, id));
    expect(value.files).toHaveLength(FILES);
    // An entry (80), its path (56), digest (80), one time string (40), its slot (8): 264; 304 with a second time string.
    expect(perFile).toBeLessThan(285);
  });

  it("the previous snapshot, read for a capture beside the run's scan, holds none of the strings the scan holds", async () => {
    const entries = await scanOf(run, store);
    const { perFile, value } = await heldPerFile(() => storeOf(store).newestGood({ like: entries }));
    expect(value!.files).toHaveLength(FILES);
    // An entry (80) and its digest (80), its slot (8): 168; its own path and time strings are 96-136 more.
    expect(perFile).toBeLessThan(200);
    expect(entries).toHaveLength(FILES);
    // The same values as any other read of it.
    expect(value!.files).toEqual((await readSnapshot(store, id)).files);
  });
});
