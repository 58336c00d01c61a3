/**
 * The Version panel hears of store changes: a snapshot appearing and going, a label edited inside
 * a snapshot's folder (no event reaches a watch on `snapshots/` for that: the poll sees it), a
 * save record — and nothing while the store stands still.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { storeSignature, watchStore } from '../../src/ui/store-watch.js';
import { tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

function setup(pollMs: number): { store: string; changes: () => number } {
  const t = tempDir('ckptd-watch-');
  cleanups.push(t.cleanup);
  const store = path.join(t.dir, 'store');
  let n = 0;
  const stop = watchStore(store, () => n++, { pollMs, debounceMs: 50 });
  cleanups.push(stop);
  return { store, changes: () => n };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('watchStore', () => {
  it('reports snapshots and saves appearing and going, even in a store made after it started', async () => {
    const { store, changes } = setup(300);
    await sleep(100);
    fs.mkdirSync(path.join(store, 'snapshots', '20261123-000000-000-aaaa'), { recursive: true });
    await expect.poll(changes, { timeout: 3000 }).toBe(1);
    fs.mkdirSync(path.join(store, 'save-records'), { recursive: true });
    fs.writeFileSync(path.join(store, 'save-records', '20261123-000001-000-bbbb.json'), '{}');
    await expect.poll(changes, { timeout: 3000 }).toBeGreaterThanOrEqual(2);
    const before = changes();
    fs.rmSync(path.join(store, 'snapshots', '20261123-000000-000-aaaa'), { recursive: true });
    await expect.poll(changes, { timeout: 3000 }).toBeGreaterThan(before);
  });

  it('sees an edit inside a snapshot folder, and is quiet while nothing changes', async () => {
    const t = tempDir('ckptd-watch-');
    cleanups.push(t.cleanup);
    const snap = path.join(t.dir, 'snapshots', '20261123-000000-000-aaaa');
    fs.mkdirSync(snap, { recursive: true });
    fs.writeFileSync(path.join(snap, 'snapshot.json'), '{"name":null}');
    let n = 0;
    cleanups.push(watchStore(t.dir, () => n++, { pollMs: 200, debounceMs: 50 }));
    await sleep(700);
    expect(n).toBe(0);
    const sig = await storeSignature(t.dir);
    // As labels are written: a temp file renamed over snapshot.json (the folder's mtime moves).
    await sleep(20);
    fs.writeFileSync(path.join(snap, '.tmp-snapshot.json'), '{"name":"x"}');
    fs.renameSync(path.join(snap, '.tmp-snapshot.json'), path.join(snap, 'snapshot.json'));
    expect(await storeSignature(t.dir)).not.toBe(sig);
    await expect.poll(() => n, { timeout: 3000 }).toBe(1);
  });
});
