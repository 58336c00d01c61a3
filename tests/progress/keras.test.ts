import { describe, expect, it } from 'vitest';
import { preset, progressOf, put, tempRun } from './fixtures.js';

const KERAS = preset('keras');

describe('keras preset', () => {
  it('reads BackupAndRestore training_metadata.json: finished epochs, batch as a metric', async () => {
    const run = await tempRun();
    // What keras.callbacks.BackupAndRestore(backup_dir="backup", double_checkpoint=True) leaves after
    // 4 epochs: _save_model copies the previous pair to *.bkp, then writes the new one.
    put(run, 'backup/latest.weights.h5.bkp', 'h5', 9);
    put(run, 'backup/training_metadata.json.bkp', '{"epoch": 3, "batch": 0}', 9);
    put(run, 'backup/latest.weights.h5', 'h5', 10);
    put(run, 'backup/training_metadata.json', '{"epoch": 4, "batch": 0}', 10);
    put(run, 'model.keras', 'zip', 2);
    expect(await progressOf(run, KERAS)).toEqual({ epoch: 4, step: null, loss: null, metrics: { batch: 0 }, source: 'keras' });
  });

  it('reads a mid-epoch backup (save_freq in batches)', async () => {
    const run = await tempRun();
    put(run, 'tmp/backup/training_metadata.json', '{"epoch": 2, "batch": 99}');
    const p = await progressOf(run, KERAS);
    expect([p.epoch, p.step, p.metrics]).toEqual([2, null, { batch: 99 }]);
  });

  it('uses the newest training_metadata.json when there are several', async () => {
    const run = await tempRun();
    put(run, 'a/training_metadata.json', '{"epoch": 7, "batch": 0}', 1);
    put(run, 'b/training_metadata.json', '{"epoch": 2, "batch": 0}', 5);
    expect((await progressOf(run, KERAS)).epoch).toBe(2);
  });

  it('yields nothing for a malformed file or one without an epoch', async () => {
    const run = await tempRun();
    put(run, 'backup/training_metadata.json', '{"epoch": 4, "batch"');
    expect((await progressOf(run, KERAS)).source).toBeNull();
    put(run, 'backup/training_metadata.json', '{"batch": 3}');
    expect((await progressOf(run, KERAS)).source).toBeNull();
  });

  it('double_checkpoint: reads training_metadata.json.bkp while training_metadata.json is being rewritten', async () => {
    const run = await tempRun();
    put(run, 'backup/latest.weights.h5.bkp', 'h5', 9);
    put(run, 'backup/training_metadata.json.bkp', '{"epoch": 3, "batch": 0}', 9);
    put(run, 'backup/latest.weights.h5', 'h5', 10);
    // open(path, "w") has emptied it; json.dumps has not been written yet.
    put(run, 'backup/training_metadata.json', '', 10);
    expect(await progressOf(run, KERAS)).toEqual({ epoch: 3, step: null, loss: null, metrics: { batch: 0 }, source: 'keras' });
  });

  it('falls back to an older file when the newest is broken', async () => {
    const run = await tempRun();
    put(run, 'a/training_metadata.json', '{"epoch": 5, "batch": 0}', 1);
    put(run, 'b/training_metadata.json', 'garbage{', 5);
    expect((await progressOf(run, KERAS)).epoch).toBe(5);
  });
});
