import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesToCopy } from '../../src/ops/run-actions.js';
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
