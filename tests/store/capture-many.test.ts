/**
 * Captures of runs with many files (issue 15): unchanged files are hard-linked from the previous
 * snapshot without a look at each source first, and the consistency pass that ends the capture
 * proves each one, inside the run, still the version linked; many small copies are made durable
 * with one syncfs of the store's file system instead of an fsync each.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureState } from '../../src/store/capture-state.js';
import { kernelAtLeast } from '../../src/store/sync-fs.js';
import { age, put, rewriteKeepingMtime, runAndStore, scanAll, sha256, sha256File, snap, syncfsUsable } from './fixtures.js';

const SWAPPED = 'a folder on its path was replaced by a symlink';

function inode(file: string): number {
  return fs.statSync(file).ino;
}

describe('a capture that links unchanged files', () => {
  it('captures the new version of a file changed after the scan deep in an otherwise unchanged folder, linking the rest', async () => {
    const { run, store } = await runAndStore();
    for (let i = 0; i < 50; i++) age(put(run, `cache/a/b/c/item-${i}.json`, `{"item": ${i}}`));
    age(put(run, 'trainer_state.json', '{"global_step": 100}'));
    const first = await snap(run, store);
    // The scan still says "unchanged since the first snapshot"; then the file is rewritten with
    // content of the same size and its mtime put back (cp -p, touch -r): only inode/ctime tell.
    const entries = await scanAll(run, store);
    rewriteKeepingMtime(path.join(run, 'cache/a/b/c/item-17.json'), '{"item": 99}');

    const second = await snap(run, store, { entries, previous: first, now: Date.now() + 1000, retryDelayMs: 5 });

    const changed = second.files.find((f) => f.path === 'cache/a/b/c/item-17.json')!;
    expect(changed.sha256).toBe(sha256('{"item": 99}'));
    expect(fs.readFileSync(path.join(second.path, changed.path), 'utf8')).toBe('{"item": 99}');
    expect(inode(path.join(second.path, changed.path))).not.toBe(inode(path.join(first.path, changed.path)));
    for (const f of second.files.filter((x) => x.path !== changed.path)) {
      expect(inode(path.join(second.path, f.path)), f.path).toBe(inode(path.join(first.path, f.path)));
      expect(sha256File(path.join(second.path, f.path))).toBe(f.sha256);
    }
    expect(second.skipped).toEqual([]);
    expect(second.copied_bytes).toBe(changed.size);
    expect(second.linked_bytes).toBe(first.bytes - changed.size);
  });

  it('keeps no file of a folder swapped for a symlink during the capture, not even one linked before the swap', async () => {
    const { base, run, store } = await runAndStore();
    for (let i = 0; i < 20; i++) age(put(run, `ckpt/shard-${String(i).padStart(2, '0')}.json`, `{"shard": ${i}}`));
    age(put(run, 'notes.txt', 'notes'));
    const first = await snap(run, store);
    const entries = await scanAll(run, store);

    // Once the first file of ckpt/ is linked, the folder moves out of the run and a symlink to it
    // takes its place: the same inodes, now outside the run.
    let swapped = false;
    const second = await snap(run, store, {
      entries,
      previous: first,
      now: Date.now() + 1000,
      retryDelayMs: 5,
      onProgress: (done) => {
        if (swapped || done === 0) return;
        swapped = true;
        fs.renameSync(path.join(run, 'ckpt'), path.join(base, 'outside'));
        fs.symlinkSync(path.join(base, 'outside'), path.join(run, 'ckpt'));
      },
    });

    expect(swapped).toBe(true);
    expect(second.files.map((f) => f.path)).toEqual(['notes.txt']);
    expect(second.skipped).toEqual(entries.filter((e) => e.path.startsWith('ckpt/')).map((e) => ({ path: e.path, reason: SWAPPED })));
    expect(second.linked_bytes).toBe(5);
    // Not even the folder: every file of it was left out.
    expect(fs.existsSync(path.join(second.path, 'ckpt'))).toBe(false);
  });
});

describe('a capture that looks names up in folders it opened once', () => {
  it('captures the files of a folder removed and made again under the same name during the capture', async () => {
    const { run, store, base } = await runAndStore();
    // A trainer that rewrites its state folder whole (rm -r, then the same names again).
    const write = (tag: string) => {
      for (let i = 0; i < 20; i++) age(put(run, `state/part-${String(i).padStart(2, '0')}.json`, `{"part": ${i}, "v": "${tag}"}`));
    };
    write('old');
    const entries = await scanAll(run, store);
    const dest = path.join(base, 'dest');
    fs.mkdirSync(dest);
    let redone = false;
    const got = await captureState({
      runDir: run,
      entries,
      dest,
      previous: null,
      retries: 3,
      retryDelayMs: 5,
      settleMs: 0,
      onProgress: (done) => {
        if (redone || done === 0) return;
        redone = true;
        fs.rmSync(path.join(run, 'state'), { recursive: true });
        write('new');
      },
    });

    expect(redone).toBe(true);
    expect(got.skipped).toEqual([]);
    expect(got.files.map((f) => f.path)).toEqual(entries.map((e) => e.path));
    for (const f of got.files) {
      expect(fs.readFileSync(path.join(dest, f.path), 'utf8'), f.path).toContain('"v": "new"');
      expect(sha256File(path.join(dest, f.path))).toBe(f.sha256);
    }
  });
});

describe('a capture of many small files', () => {
  it('makes a thousand copies durable with one syncfs, and a few with an fsync each', async () => {
    const { base, run, store } = await runAndStore();
    for (let i = 0; i < 1000; i++) age(put(run, `shard-${i % 4}/item-${i}.json`, `{"item": ${i}}`));
    const many = path.join(base, 'many');
    fs.mkdirSync(many);
    const entries = await scanAll(run, store);
    const got = await captureState({ runDir: run, entries, dest: many, previous: null, retries: 1, retryDelayMs: 5, settleMs: 0 });
    expect(got.synced).toBe(syncfsUsable(many));
    expect(got.files).toHaveLength(1000);
    for (const f of got.files) expect(sha256File(path.join(many, f.path)), f.path).toBe(f.sha256);

    const few = path.join(base, 'few');
    fs.mkdirSync(few);
    const some = await captureState({ runDir: run, entries: entries.slice(0, 999), dest: few, previous: null, retries: 1, retryDelayMs: 5, settleMs: 0 });
    expect(some.synced).toBe(false);
    expect(some.files).toHaveLength(999);
  });

  it('reads a kernel release against the first one whose syncfs reports write errors', () => {
    expect(kernelAtLeast('6.18.44-fc-v857', [5, 8])).toBe(true);
    expect(kernelAtLeast('5.8.0', [5, 8])).toBe(true);
    expect(kernelAtLeast('5.10.0-21-amd64', [5, 8])).toBe(true);
    expect(kernelAtLeast('5.4.0-150-generic', [5, 8])).toBe(false);
    expect(kernelAtLeast('4.19.0', [5, 8])).toBe(false);
    expect(kernelAtLeast('not a release', [5, 8])).toBe(false);
  });
});
