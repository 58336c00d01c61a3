/**
 * Restoring a sparse stored file (a checkpoint of mostly holes) keeps its holes in the run: the
 * restored file takes a few blocks, with the bytes and sha256 of the manifest.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunConfig } from '../../src/config/types.js';
import { restoreSnapshot } from '../../src/ops/restore.js';
import type { SnapshotMeta } from '../../src/store/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { makeSparse } from '../store/sparse-fixture.js';

const MiB = 1 << 20;
let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

describe('restore of a sparse file', () => {
  it('keeps its holes, with the bytes and sha256 of the manifest', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-restore-sparse-'));
    dirs.push(root);
    const filesDir = path.join(root, 'store', 'snapshots', '3', 'files');
    fs.mkdirSync(filesDir, { recursive: true });
    const data = makeSparse(path.join(filesDir, 'last.ckpt'));
    expect(fs.statSync(path.join(filesDir, 'last.ckpt')).blocks * 512).toBeLessThan(MiB);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const snapshot = {
      id: '3',
      path: filesDir,
      files: [{ path: 'last.ckpt', size: data.length, sha256, mode: 0o644, mtime_ns: '1795450853817000000' }],
    } as SnapshotMeta;
    const to = path.join(root, 'out');
    // Only the store is read; the run's folder and save.to are checked to lie apart from `to`.
    const store = path.join(root, 'store');
    await restoreSnapshot({ run: { store, path: path.join(root, 'run'), save: { to: path.join(store, 'saves') } } as RunConfig, snapshot, to, force: false, now: Date.now(), logger: silentLogger });
    const st = fs.statSync(path.join(to, 'last.ckpt'));
    expect(st.size).toBe(data.length);
    expect(st.blocks * 512).toBeLessThan(16 * MiB);
    expect(createHash('sha256').update(fs.readFileSync(path.join(to, 'last.ckpt'))).digest('hex')).toBe(sha256);
  });
});
