/**
 * The Version panel hears of store changes: a snapshot appearing and going, a label edited inside
 * a snapshot's folder (no event reaches a watch on `snapshots/` for that: the poll sees it), a
 * save record — and nothing while the store stands still.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { storeSignature, watchStore } from '../../src/ui/store-watch.js';
import { tempDir } from '../helpers/daemon-process.js';
import { waitUntil } from '../helpers/wait.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
  vi.restoreAllMocks();
});

/**
 * Starts `watchStore` and resolves once it has taken the signature it starts from (changes are
 * only reported against it): its first look at `<store>/damaged`, the last folder of a signature,
 * has returned, and what follows it in the same turn has run.
 */
async function watchFromNow(store: string, onChange: () => void, opts: { pollMs: number; debounceMs: number }): Promise<() => void> {
  const looked: Promise<unknown>[] = [];
  const readdir = fsp.readdir.bind(fsp);
  vi.spyOn(fsp, 'readdir').mockImplementation(((dir: fs.PathLike, ...rest: unknown[]) => {
    const p = (readdir as (...a: unknown[]) => Promise<unknown>)(dir, ...rest);
    if (String(dir) === path.join(store, 'damaged')) looked.push(p.catch(() => undefined));
    return p;
  }) as typeof fsp.readdir);
  const stop = watchStore(store, onChange, opts);
  await waitUntil(() => looked.length > 0, 'watchStore to look at the store');
  await looked[0];
  await new Promise((r) => setImmediate(r));
  vi.restoreAllMocks();
  return stop;
}

async function setup(pollMs: number): Promise<{ store: string; changes: () => number }> {
  const t = tempDir('ckptd-watch-');
  cleanups.push(t.cleanup);
  const store = path.join(t.dir, 'store');
  let n = 0;
  cleanups.push(await watchFromNow(store, () => n++, { pollMs, debounceMs: 50 }));
  return { store, changes: () => n };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('watchStore', () => {
  it('reports snapshots and saves appearing and going, even in a store made after it started', async () => {
    const { store, changes } = await setup(300);
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
    cleanups.push(await watchFromNow(t.dir, () => n++, { pollMs: 200, debounceMs: 50 }));
    // Proves an absence (no report over 3 polls while nothing changes): a plain sleep.
    await sleep(700);
    expect(n).toBe(0);
    const sig = await storeSignature(t.dir);
    // As labels are written: a temp file renamed over snapshot.json (the folder's mtime moves),
    // once the file system's clock has moved past the folder's mtime (its granularity may be coarse).
    const probe = path.join(t.dir, 'clock-probe');
    await waitUntil(() => {
      fs.writeFileSync(probe, '');
      return fs.statSync(probe).mtimeMs > fs.statSync(snap).mtimeMs;
    }, "the file system's clock to pass the snapshot folder's mtime");
    fs.writeFileSync(path.join(snap, '.tmp-snapshot.json'), '{"name":"x"}');
    fs.renameSync(path.join(snap, '.tmp-snapshot.json'), path.join(snap, 'snapshot.json'));
    expect(await storeSignature(t.dir)).not.toBe(sig);
    await expect.poll(() => n, { timeout: 3000 }).toBe(1);
  });
});
