import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CKPTD_PROGRESS_FILE } from '../../src/progress/ckptd-progress-file.js';
import { mergeReadings } from '../../src/progress/merge-readings.js';
import type { Reading } from '../../src/progress/types.js';
import { AUTO, NONE, hfState, preset, progressOf, put, scanList, tempRun, touch } from './fixtures.js';

const reading = (r: Partial<Reading> & { atMs: number }): Reading => ({ epoch: null, step: null, loss: null, metrics: {}, ...r });

describe('mergeReadings', () => {
  const preset_ = reading({ epoch: 2, step: 1000, loss: 1.6, metrics: { eval_loss: 1.5, lr: 1e-5 }, atMs: 100 });

  it('lets a newer .ckptd-progress.json win value by value, filling its gaps from the preset', () => {
    const manual = reading({ step: 1100, metrics: { lr: 2e-5, acc: 0.9 }, atMs: 200 });
    expect(mergeReadings({ name: 'hf', reading: preset_ }, manual)).toEqual({
      epoch: 2,
      step: 1100,
      loss: 1.6,
      metrics: { eval_loss: 1.5, lr: 2e-5, acc: 0.9 },
      source: 'hf+ckptd-progress',
    });
  });

  it('lets the preset win over an older .ckptd-progress.json, and on a tie', () => {
    for (const atMs of [50, 100]) {
      const manual = reading({ epoch: 9, loss: 0.1, metrics: { lr: 9, acc: 0.9 }, atMs });
      expect(mergeReadings({ name: 'hf', reading: preset_ }, manual)).toEqual({
        epoch: 2,
        step: 1000,
        loss: 1.6,
        metrics: { eval_loss: 1.5, lr: 1e-5, acc: 0.9 },
        source: 'hf+ckptd-progress',
      });
    }
  });

  it('names a single contributor, and nothing when neither found anything', () => {
    expect(mergeReadings({ name: 'kohya', reading: preset_ }, null).source).toBe('kohya');
    expect(mergeReadings(null, preset_).source).toBe('ckptd-progress');
    expect(mergeReadings(null, null)).toEqual({ epoch: null, step: null, loss: null, metrics: {}, source: null });
  });
});

describe('.ckptd-progress.json with every source', () => {
  it('is read even though the scan never lists it', async () => {
    const run = await tempRun();
    put(run, CKPTD_PROGRESS_FILE, '{"epoch": 1, "step": 10, "loss": 0.5, "metrics": {"acc": 0.7}, "updated": "2025-01-01T00:00:00.000Z"}');
    expect((await scanList(run)).map((f) => f.path)).not.toContain(CKPTD_PROGRESS_FILE);
    expect(await progressOf(run, NONE)).toEqual({ epoch: 1, step: 10, loss: 0.5, metrics: { acc: 0.7 }, source: 'ckptd-progress' });
    expect((await progressOf(run, AUTO)).source).toBe('ckptd-progress');
    expect((await progressOf(run, preset('lightning'))).step).toBe(10);
    expect((await progressOf(run, { kind: 'filename', pattern: 'x(?<step>\\d+)' })).step).toBe(10);
    expect((await progressOf(run, { kind: 'file', file: 'nope.json', epoch: 'e', step: null, loss: null, metrics: {} })).epoch).toBe(1);
  });

  it('wins over the preset when it is newer, and loses when it is older', async () => {
    const run = await tempRun();
    put(run, 'checkpoint-500/trainer_state.json', hfState(500, 1.0, [{ epoch: 1.0, loss: 2.0, step: 500 }]), 10);
    const manual = put(run, CKPTD_PROGRESS_FILE, '{"epoch": 1.2, "step": 600, "metrics": {"acc": 0.8}}', 20);
    expect(await progressOf(run, preset('hf'))).toEqual({ epoch: 1.2, step: 600, loss: 2.0, metrics: { acc: 0.8 }, source: 'hf+ckptd-progress' });
    touch(manual, 5);
    expect(await progressOf(run, AUTO)).toEqual({ epoch: 1, step: 500, loss: 2.0, metrics: { acc: 0.8 }, source: 'hf+ckptd-progress' });
  });

  it('is ignored when malformed or empty', async () => {
    const run = await tempRun();
    put(run, 'checkpoints/epoch=3-step=400.ckpt', 'x', 1);
    for (const text of ['{"epoch": ', '[]', '{}', '{"epoch": "x", "metrics": {"a": "b"}}']) {
      put(run, CKPTD_PROGRESS_FILE, text, 9);
      expect((await progressOf(run, AUTO)).source).toBe('lightning');
      expect((await progressOf(run, NONE)).source).toBeNull();
    }
  });

  it('is ignored when it is a folder', async () => {
    const run = await tempRun();
    put(run, path.join(CKPTD_PROGRESS_FILE, 'x'), '{}');
    expect((await progressOf(run, NONE)).source).toBeNull();
  });
});
