/**
 * A stored file written in place after its snapshot was sealed (a root process ignores the 0444
 * mode: a trainer resumed from a path inside the store, a script that opened it `r+b`) no longer
 * holds the bytes its manifest names. The next snapshot must copy the run's file instead of linking
 * that inode, or it records the old digest for bytes it does not hold. Told by the stored file's
 * mtime: a copy's is never later than its `snapshot.json`, which a label change leaves as it was.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeLabels } from '../../src/store/labels.js';
import { snapshotMetaFile } from '../../src/store/layout.js';
import { readSnapshot } from '../../src/store/read-store.js';
import { LINK_IN_WORKERS_FROM } from '../../src/store/link-unchanged.js';
import { age, put, runAndStore, sha256, snap } from './fixtures.js';

/** Writes `text` over the start of a stored file, size and mode kept, a moment after it was sealed. */
function editStored(file: string, text: string): void {
  const mode = fs.statSync(file).mode & 0o777;
  fs.chmodSync(file, 0o644);
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, text, 0);
  fs.closeSync(fd);
  fs.chmodSync(file, mode);
}

const later = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a stored file written in place after its snapshot', () => {
  it.each([
    ['linked one by one', 3],
    ['linked in bulk', LINK_IN_WORKERS_FROM + 10],
  ])('is copied again from the run, %s, even after a label change', async (_how, count) => {
    const { run, store } = await runAndStore();
    for (let i = 0; i < count; i++) age(put(run, `d${i % 4}/f${i}.bin`, `original ${i}`));
    const first = await snap(run, store);
    // The label change rewrites snapshot.json before the edit: its time must still be the seal's.
    await writeLabels(store, first.id, first.kind, { name: 'good' });
    await later(20);
    editStored(path.join(first.path, 'd1/f1.bin'), 'CORRUPT!');
    await writeLabels(store, first.id, first.kind, { notes: 'still good' });

    const second = await snap(run, store, { previous: await readSnapshot(store, first.id) });
    const stored = path.join(second.path, 'd1/f1.bin');
    expect(fs.readFileSync(stored, 'utf8')).toBe('original 1');
    expect(second.files.find((f) => f.path === 'd1/f1.bin')!.sha256).toBe(sha256('original 1'));
    expect(fs.statSync(stored).ino).not.toBe(fs.statSync(path.join(first.path, 'd1/f1.bin')).ino);
    // The others are still linked.
    expect(fs.statSync(path.join(second.path, 'd0/f0.bin')).ino).toBe(fs.statSync(path.join(first.path, 'd0/f0.bin')).ino);
    expect(second.copied_bytes).toBe('original 1'.length);
  });

  it('is linked when written in the clock tick of the seal, after any number of label changes', async () => {
    const { run, store } = await runAndStore();
    for (let i = 0; i < 3; i++) age(put(run, `f${i}.bin`, `original ${i}`));
    const first = await snap(run, store);
    // File times are a kernel tick apart: the last files copied and snapshot.json may share one,
    // to the nanosecond (here one off a microsecond boundary, as most are).
    const meta = snapshotMetaFile(store, first.id);
    const tick = (fs.statSync(meta, { bigint: true }).mtimeNs / 1000n) * 1000n + 789n;
    const at = `@${tick / 1_000_000_000n}.${String(tick % 1_000_000_000n).padStart(9, '0')}`;
    execFileSync('touch', ['-m', '-d', at, meta, ...first.files.map((f) => path.join(first.path, f.path))]);
    for (const name of ['good', 'best']) await writeLabels(store, first.id, first.kind, { name });

    const second = await snap(run, store, { previous: await readSnapshot(store, first.id) });
    expect(second.copied_bytes).toBe(0);
    for (const f of first.files) expect(fs.statSync(path.join(second.path, f.path)).ino).toBe(fs.statSync(path.join(first.path, f.path)).ino);
  });
});
