/**
 * A sparse source (holes: `st_blocks * 512 < size`) is stored with its holes, like
 * `cp --sparse=auto`: only the blocks holding data take space, the hash is that of the full content.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureFile } from '../../src/store/capture-file.js';
import { scanState } from '../../src/store/scan.js';
import { age, sha256, sha256File, tempDir } from './fixtures.js';
import { makeSparse } from './sparse-fixture.js';

const MiB = 1 << 20;

describe('captureFile of a sparse file', () => {
  it('keeps its holes: the copy takes a few blocks, with the same bytes and sha256', async () => {
    const dir = await tempDir();
    const src = path.join(dir, 'sparse.bin');
    const data = makeSparse(src);
    // The test is only meaningful where the file system really made holes.
    expect(fs.statSync(src).blocks * 512).toBeLessThan(MiB);
    age(src);
    const [e] = await scanState(dir, { include: ['sparse.bin'], exclude: [], excludeAbs: [] });
    const dst = path.join(dir, 'dst');
    const out = await captureFile(src, dst, e!);
    expect(out).toMatchObject({ size: data.length, sha256: sha256(data) });
    const st = fs.statSync(dst);
    expect(st.size).toBe(data.length);
    expect(st.blocks * 512).toBeLessThan(16 * MiB);
    expect(sha256File(dst)).toBe(sha256(data));
  });
});
