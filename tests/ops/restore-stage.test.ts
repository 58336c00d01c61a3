/**
 * Restore stages files concurrently (large ones two at a time, small ones many): the result must
 * still be in manifest order, progress monotone up to the total, every copy hash-checked, and a
 * failure must leave no temp file and nothing replaced.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunConfig } from '../../src/config/types.js';
import { restoreSnapshot } from '../../src/ops/restore.js';
import type { ManifestEntry, SnapshotMeta } from '../../src/store/types.js';
import { silentLogger } from '../../src/util/logger.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

const MiB = 1 << 20;

/** A snapshot folder holding `sizes` (bytes per file, some in a subfolder) and its manifest. */
function fakeSnapshot(sizes: number[]): { snapshot: SnapshotMeta; root: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-restore-stage-'));
  dirs.push(root);
  const filesDir = path.join(root, 'store', 'snapshots', '7', 'files');
  const files: ManifestEntry[] = sizes.map((size, i) => {
    const rel = i % 3 === 0 ? `sub/f${String(i).padStart(2, '0')}.bin` : `f${String(i).padStart(2, '0')}.bin`;
    const abs = path.join(filesDir, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    const bytes = Buffer.alloc(size, i + 1);
    fs.writeFileSync(abs, bytes);
    return { path: rel, size, sha256: createHash('sha256').update(bytes).digest('hex'), mode: 0o644, mtime_ns: '1795450853817000000' };
  });
  const snapshot = { id: '7', path: filesDir, files } as SnapshotMeta;
  return { snapshot, root };
}

/** The store holding `snapshot` is the folder above its `snapshots/`; the run's folder beside it, apart from any `to`. */
const storeOfSnapshot = (snapshot: SnapshotMeta): RunConfig => {
  const store = path.resolve(snapshot.path, '../../..');
  return { store, path: path.join(path.dirname(store), 'run'), save: { to: path.join(store, 'saves') } } as RunConfig;
};

const restoreTo = (snapshot: SnapshotMeta, to: string, onProgress?: (d: number, t: number) => void) =>
  restoreSnapshot({ run: storeOfSnapshot(snapshot), snapshot, to, force: false, now: Date.now(), logger: silentLogger, ...(onProgress ? { onProgress } : {}) });

const tempNames = (dir: string): string[] => fs.readdirSync(dir, { recursive: true }).map(String).filter((n) => path.basename(n).startsWith('.ckptd-tmp-restore-'));

describe('restore stages files concurrently', () => {
  const sizes = [3 * MiB, 10, 0, 2 * MiB + 5, 4096, MiB, MiB + 1, 7, 5 * MiB, ...Array.from({ length: 30 }, (_, i) => 100 + i)];

  it('writes every file byte for byte, in manifest order, with monotone progress ending at the total', async () => {
    const { snapshot, root } = fakeSnapshot(sizes);
    const to = path.join(root, 'out');
    const calls: [number, number][] = [];
    const r = await restoreTo(snapshot, to, (d, t) => calls.push([d, t]));
    expect(r.written).toEqual(snapshot.files.map((f) => f.path));
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(r.bytesWritten).toBe(total);
    for (const f of snapshot.files) {
      const got = fs.readFileSync(path.join(to, f.path));
      expect(createHash('sha256').update(got).digest('hex')).toBe(f.sha256);
    }
    for (let i = 1; i < calls.length; i++) expect(calls[i]![0]).toBeGreaterThanOrEqual(calls[i - 1]![0]);
    expect(calls.at(-1)).toEqual([total, total]);
    expect(tempNames(to)).toEqual([]);
  });

  it('refuses a damaged file, large or small: no temp file left, nothing written', async () => {
    for (const bad of [8, 0, 10]) {
      const { snapshot, root } = fakeSnapshot(sizes);
      // Same size, other bytes: only the hash can tell.
      const f = snapshot.files[bad]!;
      const abs = path.join(snapshot.path, f.path);
      const bytes = fs.readFileSync(abs);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
      fs.writeFileSync(abs, bytes);
      const to = path.join(root, 'out');
      await expect(restoreTo(snapshot, to)).rejects.toThrow(`${f.path} does not match its manifest`);
      expect(tempNames(to)).toEqual([]);
      expect(fs.readdirSync(to, { recursive: true }).map(String).filter((n) => n.endsWith('.bin'))).toEqual([]);
    }
  });

  it('refuses a snapshot missing a file, leaving no temp file', async () => {
    const { snapshot, root } = fakeSnapshot(sizes);
    fs.rmSync(path.join(snapshot.path, snapshot.files[3]!.path));
    const to = path.join(root, 'out');
    await expect(restoreTo(snapshot, to)).rejects.toThrow('is missing from the store');
    expect(tempNames(to)).toEqual([]);
    expect(fs.readdirSync(to, { recursive: true }).map(String).filter((n) => n.endsWith('.bin'))).toEqual([]);
  });
});
