/**
 * Watch errors of one folder tree: a folder that cannot be watched for a reason of its own (no
 * permission) is reported, and does not hide a later running out of inotify watches, which the
 * daemon must hear about to fall back to polling.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { watchFolders, type FolderWatch } from '../../src/daemon/folder-watch.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) c();
});

describe('watchFolders errors', () => {
  it('reports the inotify limit even after an unwatchable folder was reported', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-fwerr-'));
    cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
    fs.mkdirSync(path.join(root, 'lost+found'));
    const realWatch = fs.watch.bind(fs);
    const fail = (code: string): never => {
      throw Object.assign(new Error(`${code}: watch`), { code });
    };
    // `lost+found` is root's (EACCES); once `late` appears, the per-user watch limit is used up.
    vi.spyOn(fs, 'watch').mockImplementation(((dir: string, ...rest: unknown[]) => {
      if (path.basename(dir) === 'lost+found') return fail('EACCES');
      if (path.basename(dir) === 'late') return fail('ENOSPC');
      return (realWatch as (...a: unknown[]) => fs.FSWatcher)(dir, ...rest);
    }) as typeof fs.watch);
    const errors: string[] = [];
    let ready = false;
    const w: FolderWatch = watchFolders(root, {
      isIgnored: () => false,
      onActivity: () => undefined,
      onError: (e) => errors.push((e as NodeJS.ErrnoException).code ?? e.message),
      onReady: () => (ready = true),
      onRootGone: () => undefined,
    });
    cleanups.push(() => w.close());
    await vi.waitFor(() => expect(ready).toBe(true));
    expect(errors).toEqual(['EACCES']);

    fs.mkdirSync(path.join(root, 'late'));
    await vi.waitFor(() => expect(errors).toEqual(['EACCES', 'ENOSPC']));
  });
});
