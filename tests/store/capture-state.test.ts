import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureState } from '../../src/store/capture-state.js';
import { LINK_IN_WORKERS_FROM } from '../../src/store/link-unchanged.js';
import { verifySnapshot } from '../../src/store/verify-snapshot.js';
import { age, put, runAndStore, scanAll, sha256, sha256File, snap } from './fixtures.js';

describe('captureState', () => {
  it('captures many small files, a large one and symlinks; the next capture links every unchanged file', async () => {
    const { base, run, store } = await runAndStore();
    // Enough files for many slices and more copies than fsyncs allowed in flight at once.
    for (let i = 0; i < 1200; i++) put(run, `d${i % 3}/sub/f${i}.json`, `{"i": ${i}}`);
    put(run, 'big.bin', Buffer.alloc((1 << 20) + 1, 5));
    fs.chmodSync(put(run, 'run.sh', '#!/bin/sh\n'), 0o750);
    fs.symlinkSync('big.bin', path.join(run, 'latest'));
    for (const f of fs.readdirSync(run, { recursive: true }) as string[]) if (!f.endsWith('latest')) age(path.join(run, f));
    const entries = await scanAll(run, store);
    const dest = path.join(base, 'one');
    fs.mkdirSync(dest);
    const one = await captureState({ runDir: run, entries, dest, previous: null, retries: 1, retryDelayMs: 5, settleMs: 0 });

    expect(one.skipped).toEqual([]);
    expect(one.files.map((f) => f.path)).toEqual(entries.map((e) => e.path));
    expect(one.copiedBytes).toBe(entries.filter((e) => e.type === 'file').reduce((n, e) => n + e.size, 0));
    expect(one.linkedBytes).toBe(0);
    for (const f of one.files) {
      const p = path.join(dest, f.path);
      if (f.type === 'symlink') expect(fs.readlinkSync(p)).toBe('big.bin');
      else {
        expect(sha256File(p)).toBe(f.sha256);
        expect(fs.statSync(p).mode & 0o777).toBe(f.path === 'run.sh' ? 0o550 : 0o444);
      }
    }
    expect(one.files.find((f) => f.path === 'd1/sub/f4.json')!.sha256).toBe(sha256('{"i": 4}'));
    expect(one.dirs).toEqual(expect.arrayContaining([path.join(dest, 'd0/sub'), path.join(dest, 'd0'), dest]));
    expect(one.dirs).toHaveLength(7);

    const dest2 = path.join(base, 'two');
    fs.mkdirSync(dest2);
    const two = await captureState({ runDir: run, entries, dest: dest2, previous: { filesDir: dest, files: one.files, sealedUs: Date.now() * 1000 }, retries: 1, retryDelayMs: 5, settleMs: 0 });
    expect(two.copiedBytes).toBe(0);
    expect(two.linkedBytes).toBe(one.copiedBytes);
    expect(two.files).toEqual(one.files);
    for (const f of two.files) {
      if (f.type !== 'symlink') expect(fs.statSync(path.join(dest2, f.path)).ino).toBe(fs.statSync(path.join(dest, f.path)).ino);
    }
  });

  it('on an error mid-way, throws only once every copy it started is done, leaving no file descriptor open', async () => {
    const { base, run, store } = await runAndStore();
    for (let i = 0; i < 300; i++) put(run, `f${i}.bin`, `file ${i}`);
    const entries = await scanAll(run, store);
    const dest = path.join(base, 'dest');
    fs.mkdirSync(dest);
    const fds = fs.readdirSync('/proc/self/fd').length;
    let calls = 0;
    const err = await captureState({
      runDir: run,
      entries,
      dest,
      previous: null,
      retries: 1,
      retryDelayMs: 5,
      settleMs: 0,
      onProgress: () => {
        if (++calls === 100) throw new Error('injected');
      },
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('injected');
    expect(calls).toBe(100);
    expect(fs.readdirSync('/proc/self/fd').length).toBe(fds);
  });

  it('reports every file as vanished when the run folder itself is gone since the scan', async () => {
    const { base, run, store } = await runAndStore();
    put(run, 'a.json', 'a');
    fs.symlinkSync('a.json', path.join(run, 'latest'));
    const entries = await scanAll(run, store);
    fs.rmSync(run, { recursive: true });
    const dest = path.join(base, 'dest');
    fs.mkdirSync(dest);
    const got = await captureState({ runDir: run, entries, dest, previous: null, retries: 1, retryDelayMs: 5, settleMs: 0 });
    expect(got.files).toEqual([]);
    expect(got.skipped).toEqual([
      { path: 'a.json', reason: 'vanished' },
      { path: 'latest', reason: 'vanished' },
    ]);
  });

  it('captures again a small file changed after its copy, keeping the rest', async () => {
    const { base, run, store } = await runAndStore();
    for (let i = 0; i < 50; i++) age(put(run, `f${i}.json`, `v1 ${i}`));
    const entries = await scanAll(run, store);
    const dest = path.join(base, 'dest');
    fs.mkdirSync(dest);
    let changed = false;
    const got = await captureState({
      runDir: run,
      entries,
      dest,
      previous: null,
      retries: 2,
      retryDelayMs: 5,
      settleMs: 0,
      onProgress: () => {
        // f0.json is copied first; change it once its copy is in place.
        if (changed || !fs.existsSync(path.join(dest, 'f0.json'))) return;
        changed = true;
        fs.writeFileSync(path.join(run, 'f0.json'), 'v2, longer');
      },
    });
    expect(changed).toBe(true);
    expect(got.skipped).toEqual([]);
    expect(fs.readFileSync(path.join(dest, 'f0.json'), 'utf8')).toBe('v2, longer');
    expect(got.files.find((f) => f.path === 'f0.json')!.sha256).toBe(sha256('v2, longer'));
    expect(got.files).toHaveLength(50);
  });
  // A trainer that rotates checkpoints deletes a whole folder right after the scan saw it.
  it.each([
    ['copied', 0, false],
    ['linked one by one', 0, true],
    ['linked in bulk', LINK_IN_WORKERS_FROM, true],
  ])('leaves no empty folder for files that vanished since the scan (%s): the snapshot verifies clean', async (_how, others, linked) => {
    const { run, store } = await runAndStore();
    age(put(run, 'top.json', '{}'));
    for (let i = 0; i < others; i++) age(put(run, `keep/f${i}.json`, `${i}`));
    age(put(run, 'checkpoint-500/deep/weights.bin', 'w500'));
    age(put(run, 'checkpoint-500/state.json', '{"step": 500}'));
    const first = await snap(run, store);
    const entries = await scanAll(run, store);
    fs.rmSync(path.join(run, 'checkpoint-500'), { recursive: true });
    const second = await snap(run, store, { entries, previous: linked ? first : null, now: Date.now() + 1000, retries: 0 });

    expect(second.skipped.map((s) => s.path).sort()).toEqual(['checkpoint-500/deep/weights.bin', 'checkpoint-500/state.json']);
    expect(fs.existsSync(path.join(second.path, 'checkpoint-500'))).toBe(false);
    expect(fs.readFileSync(path.join(second.path, 'top.json'), 'utf8')).toBe('{}');
    const v = await verifySnapshot(store, second);
    expect({ ok: v.ok, extra: v.extra, missing: v.missing }).toEqual({ ok: true, extra: [], missing: [] });
  });
});
