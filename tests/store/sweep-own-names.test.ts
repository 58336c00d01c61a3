/**
 * The sweep at start removes from `.staging/` and `.trash/` only what ckptd puts there: folders
 * named by a snapshot id. Anything else (a person's file, a symlink planted there) stays, and a
 * symlink's target is never touched.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sweepStore } from '../../src/store/delete-snapshot.js';
import { ensureStore, stagingRoot, trashRoot } from '../../src/store/layout.js';
import { tempDir } from './fixtures.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the sweep of .staging and .trash', () => {
  it('removes the id folders ckptd left and keeps every other entry', async () => {
    const base = await tempDir();
    const store = path.join(base, 'store');
    await ensureStore(store);
    const outside = path.join(base, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'precious.bin'), 'not ckptd');
    for (const dir of [stagingRoot(store), trashRoot(store)]) {
      fs.mkdirSync(dir, { recursive: true });
      const ours = path.join(dir, '20261201-100000-000-aaaa');
      fs.mkdirSync(path.join(ours, 'files'), { recursive: true });
      fs.writeFileSync(path.join(ours, 'files', 'model.pt'), 'half written');
      fs.writeFileSync(path.join(dir, 'README.txt'), "the person's note");
      fs.symlinkSync(outside, path.join(dir, '20261201-100000-000-bbbb'));
      fs.symlinkSync(outside, path.join(dir, 'link-out'));
    }

    const swept = await sweepStore(store);

    for (const dir of [stagingRoot(store), trashRoot(store)]) {
      expect(fs.readdirSync(dir).sort()).toEqual(['20261201-100000-000-bbbb', 'README.txt', 'link-out']);
      expect(swept.removed).toContain(path.join(dir, '20261201-100000-000-aaaa'));
    }
    expect(fs.readFileSync(path.join(outside, 'precious.bin'), 'utf8')).toBe('not ckptd');
  });

  it('keeps going past a leftover it cannot remove, and says which and why', async () => {
    const base = await tempDir();
    const store = path.join(base, 'store');
    await ensureStore(store);
    const stuck = path.join(store, '.ckptd-tmp-state.json-1a2b');
    fs.writeFileSync(stuck, 'half written');
    const staged = path.join(stagingRoot(store), '20261201-100000-000-aaaa');
    fs.mkdirSync(staged, { recursive: true });
    fs.writeFileSync(path.join(staged, 'model.pt'), 'half written');
    // As an immutable file (chattr +i) or a read-only mount refuses it.
    const unlink = fs.unlinkSync.bind(fs);
    vi.spyOn(fs, 'unlinkSync').mockImplementation((p) => {
      if (p.toString() === stuck) throw Object.assign(new Error(`EPERM: operation not permitted, unlink '${stuck}'`), { code: 'EPERM' });
      unlink(p);
    });

    const swept = await sweepStore(store);

    expect(swept.removed).toContain(staged);
    expect(swept.kept).toEqual([{ path: stuck, reason: expect.stringContaining('EPERM') }]);
    expect(fs.existsSync(staged)).toBe(false);
  });
});
