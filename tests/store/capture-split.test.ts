/**
 * The small copies of a pass shared between the main thread and a worker (issue 15, "Many files"):
 * the same snapshot as on one thread, and every guarantee kept for the files the worker copies: a
 * file changed, vanished or swapped for a symlink after the scan is judged exactly as on the main
 * thread, nothing is read through a folder swapped for a symlink, an error of the worker fails the
 * capture with its path, and a worker that dies leaves no torn copy behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { captureState, type CaptureStateOptions } from '../../src/store/capture-state.js';
import { spawnSmallWorker, type SpawnSmallWorker } from '../../src/store/small-copy-worker.js';
import { splitSmallForTests } from '../../src/store/split-small.js';
import { age, put, rewriteKeepingMtime, runAndStore, scanAll, sha256, sha256File, syncfsUsable } from './fixtures.js';

const SWAPPED = 'a folder on its path was replaced by a symlink';

/** 1,000 files (the count from which syncs are deferred, which the worker needs), in four folders of 250, each 0o644 or 0o755. */
async function manyFiles() {
  const { base, run, store } = await runAndStore();
  for (let i = 0; i < 1000; i++) {
    const file = put(run, `shard-${i % 4}/item-${String(i).padStart(4, '0')}.json`, `{"item": ${i}}`);
    if (i % 7 === 0) fs.chmodSync(file, 0o755);
    age(file);
  }
  const dest = path.join(base, 'dest');
  fs.mkdirSync(dest);
  return { base, run, store, dest };
}

/** A file in the last chunk of the last folder: the first batch the worker gets. */
const WORKERS = 'shard-3/item-0999.json';

/** The worker, with the paths it was given recorded in `seen`. */
function watched(seen: string[], spawn: SpawnSmallWorker = spawnSmallWorker): SpawnSmallWorker {
  return (data) => {
    const w = spawn(data);
    const post = w.postMessage.bind(w);
    w.postMessage = ((msg: { rels: string }, transfer?: readonly ArrayBuffer[]) => {
      seen.push(...msg.rels.split('\0'));
      post(msg, transfer as ArrayBuffer[]);
    }) as Worker['postMessage'];
    return w;
  };
}

/**
 * That the worker was given `rel`: where small copies are made durable by a syncfs (ext4, XFS,
 * Btrfs, tmpfs, ...), the only captures that share them; elsewhere it must not have started.
 */
function expectWorkerGot(seen: string[], rel: string, dest: string): void {
  if (syncfsUsable(dest)) expect(seen).toContain(rel);
  else expect(seen).toEqual([]);
}

function capture(run: string, store: string, dest: string, extra: Partial<CaptureStateOptions> = {}) {
  return scanAll(run, store).then((entries) => captureState({ runDir: run, entries, dest, previous: null, retries: 2, retryDelayMs: 5, settleMs: 0, ...extra }));
}

afterEach(() => splitSmallForTests({}));

describe('small copies on the main thread and a worker', () => {
  it('stores the same files, digests and modes as a capture on one thread', async () => {
    const { base, run, store, dest } = await manyFiles();
    const seen: string[] = [];
    splitSmallForTests({ from: 10, spawn: watched(seen) });
    const split = await capture(run, store, dest);

    splitSmallForTests({ from: Infinity });
    const one = path.join(base, 'one');
    fs.mkdirSync(one);
    const single = await capture(run, store, one);

    expectWorkerGot(seen, WORKERS, dest);
    // Shared: the main thread copied the rest.
    expect(seen.length).toBeLessThan(1000);
    expect(split.files).toEqual(single.files);
    expect(split.skipped).toEqual([]);
    expect(split.copiedBytes).toBe(single.copiedBytes);
    for (const f of split.files) {
      const stored = path.join(dest, f.path);
      expect(sha256File(stored), f.path).toBe(f.sha256);
      expect(fs.statSync(stored).mode & 0o7777, f.path).toBe(fs.statSync(path.join(one, f.path)).mode & 0o7777);
    }
  });

  it('captures the new version of a file the worker finds rewritten after the scan', async () => {
    const { run, store, dest } = await manyFiles();
    const seen: string[] = [];
    splitSmallForTests({ from: 10, spawn: watched(seen) });
    const entries = await scanAll(run, store);
    rewriteKeepingMtime(path.join(run, WORKERS), '{"item": 9999}');

    const got = await captureState({ runDir: run, entries, dest, previous: null, retries: 2, retryDelayMs: 5, settleMs: 0 });

    expectWorkerGot(seen, WORKERS, dest);
    expect(got.skipped).toEqual([]);
    expect(got.files.find((f) => f.path === WORKERS)!.sha256).toBe(sha256('{"item": 9999}'));
    expect(fs.readFileSync(path.join(dest, WORKERS), 'utf8')).toBe('{"item": 9999}');
  });

  it('leaves out a file the worker finds removed after the scan', async () => {
    const { run, store, dest } = await manyFiles();
    const seen: string[] = [];
    splitSmallForTests({ from: 10, spawn: watched(seen) });
    const entries = await scanAll(run, store);
    fs.rmSync(path.join(run, WORKERS));

    const got = await captureState({ runDir: run, entries, dest, previous: null, retries: 2, retryDelayMs: 5, settleMs: 0 });

    expectWorkerGot(seen, WORKERS, dest);
    expect(got.skipped).toEqual([{ path: WORKERS, reason: 'vanished' }]);
    expect(got.files).toHaveLength(999);
    expect(fs.existsSync(path.join(dest, WORKERS))).toBe(false);
  });

  it('stores a file the worker finds swapped for a symlink as that symlink, never the bytes it leads to', async () => {
    const { base, run, store, dest } = await manyFiles();
    const seen: string[] = [];
    splitSmallForTests({ from: 10, spawn: watched(seen) });
    const entries = await scanAll(run, store);
    const secret = put(base, 'outside/secret.json', 'OUTSIDE SECRET');
    fs.rmSync(path.join(run, WORKERS));
    fs.symlinkSync(secret, path.join(run, WORKERS));

    const got = await captureState({ runDir: run, entries, dest, previous: null, retries: 2, retryDelayMs: 5, settleMs: 0 });

    expectWorkerGot(seen, WORKERS, dest);
    expect(got.skipped).toEqual([]);
    const f = got.files.find((x) => x.path === WORKERS)!;
    expect(f.type).toBe('symlink');
    expect(fs.readlinkSync(path.join(dest, WORKERS))).toBe(secret);
  });

  it('keeps no file of a folder swapped for a symlink while the worker copies it', async () => {
    const { base, run, store, dest } = await manyFiles();
    put(base, 'outside/item-0999.json', 'OUTSIDE SECRET');
    const seen: string[] = [];
    splitSmallForTests({ from: 10, spawn: watched(seen) });
    let swapped = false;
    const got = await capture(run, store, dest, {
      // The worker has its first batches (of shard-3) before the main thread reports its first file.
      onProgress: (done) => {
        if (swapped || done === 0) return;
        swapped = true;
        fs.renameSync(path.join(run, 'shard-3'), path.join(base, 'moved-away'));
        fs.symlinkSync(path.join(base, 'outside'), path.join(run, 'shard-3'));
      },
    });

    expect(swapped).toBe(true);
    expectWorkerGot(seen, WORKERS, dest);
    expect(got.files.some((f) => f.path.startsWith('shard-3/'))).toBe(false);
    expect(got.skipped).toHaveLength(250);
    // A copy the swap caught half way finds the file gone from its path (as on the main thread): "vanished".
    for (const s of got.skipped) expect(s).toEqual({ path: expect.stringMatching(/^shard-3\//), reason: expect.toBeOneOf([SWAPPED, 'vanished']) });
    expect(fs.existsSync(path.join(dest, 'shard-3'))).toBe(false);
    expect(got.files.every((f) => !fs.readFileSync(path.join(dest, f.path), 'utf8').includes('OUTSIDE'))).toBe(true);
  });

  it('fails the capture with the error the worker met, naming its path', async () => {
    const { run, store, dest } = await manyFiles();
    // Top-level files come last in path order: the worker's first batch.
    for (let i = 0; i < 10; i++) age(put(run, `zz-${i}.json`, `{"zz": ${i}}`));
    // A copy is never written over an existing file: creating this one fails (EEXIST).
    fs.writeFileSync(path.join(dest, 'zz-5.json'), 'in the way');
    const seen: string[] = [];
    splitSmallForTests({ from: 10, spawn: watched(seen) });

    await expect(capture(run, store, dest)).rejects.toThrow(expect.objectContaining({ code: 'EEXIST', message: expect.stringContaining(path.join(dest, 'zz-5.json')) }));
    expectWorkerGot(seen, 'zz-5.json', dest);
    expect(fs.readFileSync(path.join(dest, 'zz-5.json'), 'utf8')).toBe('in the way');
  });

  it('copies on the main thread what a worker that died left, with no torn copy', async () => {
    const { run, store, dest } = await manyFiles();
    // Writes a torn copy of each file of its first batch, then dies.
    const dying: SpawnSmallWorker = (data) =>
      new Worker(
        `const { parentPort, workerData } = require('node:worker_threads');
         const fs = require('node:fs');
         const path = require('node:path');
         parentPort.on('message', ({ rels }) => {
           for (const rel of rels.split('\\0')) fs.writeFileSync(path.join(workerData.dest, rel), 'torn');
           process.exit(1);
         });`,
        { eval: true, workerData: data },
      );
    const seen: string[] = [];
    splitSmallForTests({ from: 10, spawn: watched(seen, dying) });

    const got = await capture(run, store, dest);

    expectWorkerGot(seen, WORKERS, dest);
    expect(got.skipped).toEqual([]);
    expect(got.files).toHaveLength(1000);
    for (const f of got.files) {
      expect(fs.readFileSync(path.join(dest, f.path), 'utf8'), f.path).toBe(fs.readFileSync(path.join(run, f.path), 'utf8'));
      expect(sha256File(path.join(dest, f.path))).toBe(f.sha256);
    }
  });

  it('copies everything on the main thread when the worker cannot start', async () => {
    const { run, store, dest } = await manyFiles();
    splitSmallForTests({
      from: 10,
      spawn: () => {
        throw new Error('no more threads');
      },
    });

    const got = await capture(run, store, dest);

    expect(got.skipped).toEqual([]);
    expect(got.files).toHaveLength(1000);
    for (const f of got.files) expect(sha256File(path.join(dest, f.path))).toBe(f.sha256);
  });
});
