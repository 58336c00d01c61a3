import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readCapturedProgress } from '../../src/progress/read-progress.js';
import { preset, progressOf, put, scanList, tempRun } from './fixtures.js';

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

/**
 * The `backup_dir` of tf.keras 2.x `BackupAndRestore`, written by `fixtures/make_tf_keras_backup.py`
 * byte for byte as TensorFlow writes it: `backup` (tf_keras, TensorFlow 2.11+: after 4 epochs of
 * 100 steps) and `backup-tf2.10` (TensorFlow 2.3 to 2.10: the epoch only).
 */
const TF_FILES = ['checkpoint', 'ckpt-4.index', 'ckpt-4.data-00000-of-00002', 'ckpt-4.data-00001-of-00002'];
function putTfBackup(run: string, fixture: 'backup' | 'backup-tf2.10', minute = 40): void {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/tf-keras', fixture, 'chief');
  for (const name of TF_FILES) put(run, `backup/chief/${name}`, fs.readFileSync(path.join(dir, name)), minute);
}

describe('keras preset: tf.keras 2.x BackupAndRestore (TensorFlow checkpoints in backup_dir/chief/)', () => {
  it('reads finished epochs (ckpt_saved_epoch + 1) and the step (train_counter) of the ckpt-N the checkpoint file names', async () => {
    const run = await tempRun();
    putTfBackup(run, 'backup');
    expect(await progressOf(run, KERAS)).toEqual({ epoch: 4, step: 400, loss: null, metrics: {}, source: 'keras' });
  });

  it('reads TensorFlow 2.3-2.10 backups, which hold the epoch only', async () => {
    const run = await tempRun();
    putTfBackup(run, 'backup-tf2.10');
    expect(await progressOf(run, KERAS)).toEqual({ epoch: 4, step: null, loss: null, metrics: {}, source: 'keras' });
  });

  it('reads the snapshot copy of a backup, not the live one', async () => {
    const live = await tempRun();
    const copy = await tempRun();
    putTfBackup(copy, 'backup', 40);
    put(live, 'backup/chief/checkpoint', 'model_checkpoint_path: "ckpt-9"\n', 50);
    const progress = await readCapturedProgress(copy, live, KERAS, await scanList(copy));
    expect([progress.epoch, progress.step, progress.source]).toEqual([4, 400, 'keras']);
  });

  it('yields nothing when the checkpoint file names a ckpt-N that is gone, or the index is cut short', async () => {
    const gone = await tempRun();
    putTfBackup(gone, 'backup');
    put(gone, 'backup/chief/checkpoint', 'model_checkpoint_path: "ckpt-5"\nall_model_checkpoint_paths: "ckpt-5"\n', 41);
    expect((await progressOf(gone, KERAS)).source).toBeNull();
    const cut = await tempRun();
    putTfBackup(cut, 'backup');
    fs.truncateSync(path.join(cut, 'backup/chief/ckpt-4.index'), 300);
    expect((await progressOf(cut, KERAS)).source).toBeNull();
  });

  it('the newer of a Keras 3 training_metadata.json and a tf.keras 2 backup wins', async () => {
    const run = await tempRun();
    putTfBackup(run, 'backup', 40);
    put(run, 'keras3/training_metadata.json', '{"epoch": 9, "batch": 0}', 30);
    expect((await progressOf(run, KERAS)).epoch).toBe(4);
    put(run, 'keras3/training_metadata.json', '{"epoch": 9, "batch": 0}', 50);
    expect((await progressOf(run, KERAS)).epoch).toBe(9);
  });
});
