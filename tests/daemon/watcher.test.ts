/**
 * The run watcher with real folders and real inotify: every write a trainer makes anywhere in the
 * run is reported, in folders made, renamed and deleted while watching, at the cost of one inotify
 * watch per folder (not per file); ckptd's own folders and symlinked folders are not followed; the
 * polling fallback reports writes too.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { watchRun, type Watcher } from '../../src/daemon/watcher.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-watch-'));
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** The inotify watches this process holds, over all its inotify instances (libuv's included). */
function inotifyWatches(): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target = '';
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== 'anon_inode:inotify') continue;
    const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    n += info.split('\n').filter((l) => l.startsWith('inotify wd:')).length;
  }
  return n;
}

interface Seen {
  paths: string[];
  ready: number;
  errors: Error[];
  watcher: Watcher;
}

async function start(root: string, opts: { ignoreDirs?: string[]; usePolling?: boolean } = {}): Promise<Seen> {
  const seen = { paths: [] as string[], ready: 0, errors: [] as Error[] } as Seen;
  seen.watcher = watchRun(root, {
    ignoreDirs: opts.ignoreDirs ?? [],
    usePolling: opts.usePolling ?? false,
    onActivity: (p) => seen.paths.push(path.resolve(p)),
    onError: (e) => seen.errors.push(e),
    onReady: () => seen.ready++,
  });
  cleanups.push(() => seen.watcher.close());
  await vi.waitFor(() => expect(seen.ready).toBe(1), { timeout: 10_000 });
  return seen;
}

/** Waits until `p` has been reported since `from` (an index into `seen.paths`). */
async function reported(seen: Seen, p: string, from = 0): Promise<void> {
  // Generous: beside the suite on two cores (load 12), an event once took over 5 s to arrive.
  await vi.waitFor(() => expect(seen.paths.slice(from)).toContain(p), { timeout: 20_000, interval: 20 });
}

describe('watchRun', () => {
  it('reports in-place writes in nested folders with one inotify watch per folder (and the parent), however many files', async () => {
    const root = tempDir();
    for (const d of ['a', 'b', 'a/deep']) {
      fs.mkdirSync(path.join(root, d), { recursive: true });
      for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(root, d, `f${i}.bin`), 'x');
    }
    const before = inotifyWatches();
    const seen = await start(root);
    expect(inotifyWatches() - before).toBe(5);

    const f = path.join(root, 'a/deep/f7.bin');
    fs.appendFileSync(f, 'more');
    await reported(seen, f);
    expect(seen.errors).toEqual([]);
  });

  it('follows folders made, renamed and deleted while watching, and stops watching the gone ones', async () => {
    const root = tempDir();
    const before = inotifyWatches();
    const seen = await start(root);
    // The run folder, and its parent for the run folder's own deletion or replacement.
    expect(inotifyWatches() - before).toBe(2);

    // A trainer that writes a whole checkpoint folder under a temp name, then renames it.
    fs.mkdirSync(path.join(root, 'tmp-checkpoint-10/inner'), { recursive: true });
    fs.writeFileSync(path.join(root, 'tmp-checkpoint-10/inner/model.bin'), 'w');
    await reported(seen, path.join(root, 'tmp-checkpoint-10'));
    await vi.waitFor(() => expect(inotifyWatches() - before).toBe(4));
    fs.renameSync(path.join(root, 'tmp-checkpoint-10'), path.join(root, 'checkpoint-10'));
    await reported(seen, path.join(root, 'checkpoint-10'));

    const mark = seen.paths.length;
    const model = path.join(root, 'checkpoint-10/inner/model.bin');
    fs.appendFileSync(model, 'epoch 2');
    await reported(seen, model, mark);
    await vi.waitFor(() => expect(inotifyWatches() - before).toBe(4));

    fs.rmSync(path.join(root, 'checkpoint-10'), { recursive: true });
    await reported(seen, path.join(root, 'checkpoint-10'), mark);
    await vi.waitFor(() => expect(inotifyWatches() - before).toBe(2));
    expect(seen.errors).toEqual([]);
  });

  it('follows a folder inside the run that is deleted and made again under the same name', async () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'backup'));
    fs.writeFileSync(path.join(root, 'backup/state.bin'), 'epoch 1');
    const seen = await start(root);
    // As Keras' BackupAndRestore and many scripts do: remove the folder, write it anew.
    fs.rmSync(path.join(root, 'backup'), { recursive: true });
    fs.mkdirSync(path.join(root, 'backup'));
    await reported(seen, path.join(root, 'backup'));
    // Writes into the new folder are reported once it is watched (the old watch saw none of them).
    const state = path.join(root, 'backup/state.bin');
    fs.writeFileSync(state, 'epoch 2');
    const mark = seen.paths.length;
    await vi.waitFor(
      () => {
        fs.appendFileSync(state, '.');
        expect(seen.paths.slice(mark)).toContain(state);
      },
      { timeout: 5000, interval: 100 },
    );
  });

  it('follows the run folder when it is deleted and made again', async () => {
    const parent = tempDir();
    const root = path.join(parent, 'run');
    fs.mkdirSync(root);
    const seen = await start(root);
    fs.rmSync(root, { recursive: true });
    await reported(seen, root);
    fs.mkdirSync(root);
    await vi.waitFor(() => expect(seen.ready).toBe(2), { timeout: 5000 });
    const mark = seen.paths.length;
    fs.writeFileSync(path.join(root, 'model.bin'), 'new run');
    await reported(seen, path.join(root, 'model.bin'), mark);
  });

  it("reports nothing from ckptd's own folders or from folders a symlink points to", async () => {
    const root = tempDir();
    const outside = tempDir();
    const saves = path.join(root, 'saves');
    fs.mkdirSync(saves);
    fs.symlinkSync(outside, path.join(root, 'linked'));
    const seen = await start(root, { ignoreDirs: [saves] });

    fs.writeFileSync(path.join(saves, 'export.safetensors'), 's');
    fs.mkdirSync(path.join(saves, 'sub'));
    fs.writeFileSync(path.join(outside, 'elsewhere.bin'), 'o');
    const marker = path.join(root, 'marker');
    fs.writeFileSync(marker, 'm');
    await reported(seen, marker);
    // inotify delivers in order within an instance: what came before the marker has arrived.
    expect(seen.paths.filter((p) => p.startsWith(saves) || p.startsWith(outside))).toEqual([]);
  });

  it('watches a folder whose creation was lost when the inotify queue overflowed, at the next resync', async () => {
    const root = tempDir();
    const seen = await start(root);
    // The event loop is blocked while more events arrive than the kernel queues
    // (fs.inotify.max_queued_events, 16384 by default): the rest, `late`'s creation too, are dropped.
    const queued = Number(fs.readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'));
    for (let i = 0; i <= queued; i++) fs.closeSync(fs.openSync(path.join(root, `burst-${i}`), 'w'));
    fs.mkdirSync(path.join(root, 'late'));
    const model = path.join(root, 'late/model.bin');
    fs.writeFileSync(model, 'step 1');
    // Once the queue is read, events flow again.
    await reported(seen, path.join(root, 'burst-0'));
    const marker = path.join(root, 'marker');
    fs.writeFileSync(marker, 'm');
    await reported(seen, marker);
    // In order within an instance: the write in `late` would have come before the marker.
    expect(seen.paths).not.toContain(model);

    // The daemon's periodic rescan resyncs the watch: the folder is watched and reported.
    const mark = seen.paths.length;
    seen.watcher.resync();
    await reported(seen, path.join(root, 'late'), mark);
    fs.appendFileSync(model, ', step 2');
    await reported(seen, model, mark);
    expect(seen.errors).toEqual([]);
  }, 30_000);

  it('polls without inotify watches when asked, and still reports writes', async () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'sub'));
    fs.writeFileSync(path.join(root, 'sub/model.bin'), 'a');
    const before = inotifyWatches();
    const seen = await start(root, { usePolling: true });
    expect(inotifyWatches() - before).toBe(0);
    fs.appendFileSync(path.join(root, 'sub/model.bin'), 'bc');
    await vi.waitFor(() => expect(seen.paths).toContain(path.join(root, 'sub/model.bin')), { timeout: 10_000, interval: 100 });
  });
});
