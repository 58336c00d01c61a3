import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { bytesToCopy, whatItTakes } from '../../src/ops/run-actions.js';
import { age, put, rewriteKeepingMtime, runAndStore, scanAll, snap } from '../store/fixtures.js';

describe('bytesToCopy', () => {
  it('counts only files the capture will copy: unchanged ones link, a rewrite that kept size and mtime does not', async () => {
    const { run, store } = await runAndStore();
    const w = put(run, 'weights.bin', 'generation 1');
    age(put(run, 'frozen.bin', 'frozen bytes'));
    age(w);
    const first = await snap(run, store);
    expect(bytesToCopy(await scanAll(run, store), first)).toBe(0);
    expect(bytesToCopy(await scanAll(run, store), null)).toBe('generation 1'.length + 'frozen bytes'.length);

    rewriteKeepingMtime(w, 'generation 2');
    const st = fs.statSync(w, { bigint: true });
    expect(first.files.find((f) => f.path === 'weights.bin')!.mtime_ns).toBe(st.mtimeNs.toString());
    expect(bytesToCopy(await scanAll(run, store), first)).toBe('generation 2'.length);
  });
});

describe('whatItTakes: the inodes a snapshot creates', () => {
  it('a file copied, a symlink and each folder of the tree take one; a file linked from the previous snapshot takes none', async () => {
    const { run, store } = await runAndStore();
    age(put(run, 'a/b/c/deep.bin', 'deep'));
    age(put(run, 'a/b/side.bin', 'side'));
    age(put(run, 'a/x.bin', 'x'));
    age(put(run, 'top.bin', 'top'));
    fs.symlinkSync('top.bin', path.join(run, 'link'));
    // The snapshot's own: its folder, files/, snapshot.json and staging names (8).
    const own = 8;
    // 4 files + 1 symlink + folders a, a/b, a/b/c.
    expect(whatItTakes(await scanAll(run, store), null)).toEqual({ bytes: 4 + 4 + 1 + 3, inodes: own + 5 + 3 });
    const first = await snap(run, store);
    // Everything unchanged: only the symlink and the folders are made anew.
    expect(whatItTakes(await scanAll(run, store), first)).toEqual({ bytes: 0, inodes: own + 1 + 3 });
  });
});
