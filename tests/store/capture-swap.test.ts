/**
 * A folder of the run replaced by a symlink to somewhere outside between the scan and the capture:
 * nothing outside the run may be stored, not its bytes, not its symlinks' targets, not by a hard
 * link from the previous snapshot. Each such file is skipped with the reason.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { put, runAndStore, scanAll, snap } from './fixtures.js';

const SWAPPED = 'a folder on its path was replaced by a symlink';

/** Every stored file's bytes under `dir`, as text. */
function storedTexts(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .map((rel) => path.join(dir, rel))
    .filter((p) => fs.lstatSync(p).isFile())
    .map((p) => fs.readFileSync(p, 'utf8'));
}

describe('capture of a run whose folder is swapped for a symlink', () => {
  it('stores nothing from the outside folder and lists its files as skipped', async () => {
    const { base, run, store } = await runAndStore();
    put(run, 'ckpt/model.bin', 'inside model');
    fs.symlinkSync('model.bin', path.join(run, 'ckpt', 'latest'));
    put(run, 'notes.txt', 'notes');
    const outside = path.join(base, 'outside');
    put(outside, 'model.bin', 'OUTSIDE SECRET');
    fs.symlinkSync('/etc/passwd', path.join(outside, 'latest'));
    const entries = await scanAll(run, store);

    fs.renameSync(path.join(run, 'ckpt'), path.join(base, 'moved-away'));
    fs.symlinkSync(outside, path.join(run, 'ckpt'));
    const meta = await snap(run, store, { entries, retryDelayMs: 5 });

    expect(storedTexts(meta.path).some((t) => t.includes('OUTSIDE'))).toBe(false);
    expect(meta.files.map((f) => f.path)).toEqual(['notes.txt']);
    expect(meta.skipped).toEqual([
      { path: 'ckpt/latest', reason: SWAPPED },
      { path: 'ckpt/model.bin', reason: SWAPPED },
    ]);
  });

  it('does not link from the previous snapshot a file now reached through a swapped folder', async () => {
    const { base, run, store } = await runAndStore();
    put(run, 'ckpt/model.bin', 'model');
    const first = await snap(run, store);
    const entries = await scanAll(run, store);

    // The same inodes, moved out of the run and reached through a symlink.
    const outside = path.join(base, 'outside');
    fs.renameSync(path.join(run, 'ckpt'), outside);
    fs.symlinkSync(outside, path.join(run, 'ckpt'));
    const second = await snap(run, store, { entries, previous: first, now: Date.now() + 1000, retryDelayMs: 5 });

    expect(second.files).toEqual([]);
    expect(second.linked_bytes).toBe(0);
    expect(second.skipped).toEqual([{ path: 'ckpt/model.bin', reason: SWAPPED }]);
  });
});
