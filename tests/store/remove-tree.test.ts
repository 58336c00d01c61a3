import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeTree } from '../../src/store/remove-tree.js';
import { put, tempDir } from './fixtures.js';

describe('removeTree', () => {
  it('removes a tree of read-only files and folders, many folders deep and wide', async () => {
    const base = await tempDir();
    const tree = path.join(base, 'snap');
    for (let d = 0; d < 3; d++) for (let f = 0; f < 700; f++) put(tree, `files/d${d}/sub/f${f}.json`, '{}');
    put(tree, 'snapshot.json', '{}');
    for (const f of fs.readdirSync(tree, { recursive: true }) as string[]) fs.chmodSync(path.join(tree, f), fs.statSync(path.join(tree, f)).isDirectory() ? 0o555 : 0o444);
    fs.chmodSync(tree, 0o555);
    await removeTree(tree);
    expect(fs.existsSync(tree)).toBe(false);
    expect(fs.readdirSync(base)).toEqual([]);
  });

  it('removes symlinks, never what they point at', async () => {
    const base = await tempDir();
    const outside = put(base, 'outside/keep.bin', 'mine');
    const tree = path.join(base, 'tree');
    fs.mkdirSync(tree);
    fs.symlinkSync(path.dirname(outside), path.join(tree, 'to-folder'));
    fs.symlinkSync(outside, path.join(tree, 'to-file'));
    await removeTree(tree);
    expect(fs.existsSync(tree)).toBe(false);
    expect(fs.readFileSync(outside, 'utf8')).toBe('mine');
    // A symlink given as the target itself is removed, not followed.
    const link = path.join(base, 'link');
    fs.symlinkSync(path.dirname(outside), link);
    await removeTree(link);
    expect(fs.existsSync(link)).toBe(false);
    expect(fs.readFileSync(outside, 'utf8')).toBe('mine');
  });

  it('removes names that are not UTF-8, a single file, and nothing at all', async () => {
    const base = await tempDir();
    const tree = path.join(base, 'tree');
    fs.mkdirSync(tree);
    const odd = Buffer.concat([Buffer.from(`${tree}/`), Buffer.from([0x6d, 0xff, 0x2e, 0x62])]);
    fs.mkdirSync(odd);
    fs.writeFileSync(Buffer.concat([odd, Buffer.from('/x\xe9', 'latin1')]), 'x');
    await removeTree(tree);
    expect(fs.existsSync(tree)).toBe(false);
    const file = put(base, 'one.bin', '1');
    await removeTree(file);
    expect(fs.existsSync(file)).toBe(false);
    await expect(removeTree(path.join(base, 'missing'))).resolves.toBeUndefined();
  });
});
