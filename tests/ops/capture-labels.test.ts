/**
 * Issue 11 item 2: a snapshot's epoch/step/loss (and model_type) are those of the bytes it holds,
 * not of the moment the backup was decided. A trainer that moves on between the decision and the
 * copy must not get e3 files labelled e2.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { zeroConfig } from '../../src/config/zero-config.js';
import type { RunConfig } from '../../src/config/types.js';
import { captureSnapshot, exportSave, progressOf, scanRun } from '../../src/ops/run-actions.js';
import { readProgress } from '../../src/progress/read-progress.js';
import type { Logger } from '../../src/util/logger.js';
import { age, put, runAndStore } from '../store/fixtures.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

function runConfig(run: string, store: string): RunConfig {
  fs.mkdirSync(store, { recursive: true });
  const c = zeroConfig(run, store).runs[0]!;
  return {
    ...c,
    settleMs: 50,
    progress: { kind: 'file', file: 'progress.json', epoch: 'epoch', step: 'step', loss: 'loss', metrics: {} },
    retention: { ...c.retention, minFreeBytes: 0 },
  };
}

function writeEpoch(run: string, epoch: number): void {
  put(run, 'progress.json', JSON.stringify({ epoch, step: epoch * 100, loss: 1 / (epoch + 1) }));
  put(run, 'model.bin', Buffer.alloc(4096, epoch));
  age(path.join(run, 'progress.json'));
  age(path.join(run, 'model.bin'));
}

describe('snapshot labels come from the captured bytes', () => {
  it('labels a backup with the progress its files hold when the trainer moved on after the decision', async () => {
    const { run, store } = await runAndStore();
    const cfg = runConfig(run, store);
    writeEpoch(run, 2);
    const entries = await scanRun(cfg);
    const decided = await readProgress(run, cfg.progress, entries.map((e) => ({ path: e.path, mtimeMs: Number(BigInt(e.mtimeNs) / 1_000_000n) })));
    expect(decided.epoch).toBe(2);

    // The trainer finishes epoch 3 between the decision and the copy.
    writeEpoch(run, 3);
    const meta = await captureSnapshot(cfg, entries, { kind: 'backup', trigger: 'test', progress: decided, now: Date.now() }, quiet);

    const stored = JSON.parse(fs.readFileSync(path.join(meta.path, 'progress.json'), 'utf8')) as { epoch: number };
    expect(fs.readFileSync(path.join(meta.path, 'model.bin'))[0]).toBe(stored.epoch);
    expect(meta.epoch).toBe(stored.epoch);
    expect(meta.step).toBe(stored.epoch * 100);
    expect(meta.loss).toBeCloseTo(1 / (stored.epoch + 1));
    const onDisk = JSON.parse(fs.readFileSync(path.join(store, 'snapshots', meta.id, 'snapshot.json'), 'utf8')) as { epoch: number };
    expect(onDisk.epoch).toBe(stored.epoch);
  });

  it('keeps the decided labels when the captured files are those the decision saw', async () => {
    const { run, store } = await runAndStore();
    const cfg = runConfig(run, store);
    writeEpoch(run, 5);
    const entries = await scanRun(cfg);
    const progress = await readProgress(run, cfg.progress, entries.map((e) => ({ path: e.path, mtimeMs: Number(BigInt(e.mtimeNs) / 1_000_000n) })));
    const meta = await captureSnapshot(cfg, entries, { kind: 'backup', trigger: 'test', progress, now: Date.now() }, quiet);
    expect([meta.epoch, meta.step]).toEqual([5, 500]);
  });

  it('exports a save before-save from the backup just taken, with its bytes and its labels', async () => {
    const { run, store } = await runAndStore();
    const cfg = runConfig(run, store);
    writeEpoch(run, 2);
    const entries = await scanRun(cfg);
    const decided = await readProgress(run, cfg.progress, entries.map((e) => ({ path: e.path, mtimeMs: Number(BigInt(e.mtimeNs) / 1_000_000n) })));
    writeEpoch(run, 3);
    const backup = await captureSnapshot(cfg, entries, { kind: 'backup', trigger: 'test', progress: decided, now: Date.now() }, quiet);
    expect(backup.epoch).toBe(3);
    const save = await exportSave(cfg, entries, progressOf(backup, decided.source), 'test', backup, Date.now(), quiet);
    expect(save.epoch).toBe(3);
    expect(path.basename(save.path)).toContain('-e3-');
    expect(save.from_snapshot).toBe(backup.id);
    expect(fs.readFileSync(save.path)[0]).toBe(3);
  });
});
