/**
 * The sweep of a remote run empties its scratch folder (`<store>/.remote-staging`, the staging of
 * interrupted captures) of the stage-* folders captures make there, and of nothing else: never
 * through a symlink to a folder of the user's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { put } from '../fixtures.js';
import { remoteHarness } from '../remote-harness.js';

describe('remote sweep', () => {
  it('removes nothing through a scratch folder that is a symlink out of the store, and says why', async () => {
    const h = await remoteHarness();
    const base = path.dirname(h.runDir);
    const outside = path.join(base, 'outside');
    put(outside, 'thesis/chapter-1.tex', 'years of work');
    fs.rmSync(path.join(base, 'scratch'), { recursive: true, force: true });
    fs.symlinkSync(outside, path.join(base, 'scratch'));

    await expect(h.store.sweep([])).rejects.toThrow(/refusing to empty scratch: .*symlink/);
    expect(fs.readFileSync(path.join(outside, 'thesis/chapter-1.tex'), 'utf8')).toBe('years of work');
  });

  it('removes only the stage-* folders captures make there; a file or a symlink of another name stays', async () => {
    const h = await remoteHarness();
    const base = path.dirname(h.runDir);
    const scratch = path.join(base, 'scratch');
    const outside = path.join(base, 'outside');
    put(outside, 'data.bin', 'not ckptd');
    put(scratch, 'stage-a1b2c3/snapshots/x/files/model.pt', 'half captured');
    put(scratch, 'notes.txt', "the person's note");
    fs.symlinkSync(outside, path.join(scratch, 'stage-link'));

    await h.store.sweep([]);
    expect(fs.readdirSync(scratch).sort()).toEqual(['notes.txt', 'stage-link']);
    expect(fs.readFileSync(path.join(outside, 'data.bin'), 'utf8')).toBe('not ckptd');
  });
});
