/**
 * The sweep of a remote run empties its scratch folder (`<store>/.remote-staging`, the staging of
 * interrupted captures): never through a symlink to a folder of the user's.
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
});
