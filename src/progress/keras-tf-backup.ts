/**
 * tf.keras 2.x `BackupAndRestore` (tf_keras/callbacks.py; TensorFlow 2.3 and later), read without
 * TensorFlow.
 *
 * Its `WorkerTrainingState` (tf_keras/distribute/worker_training_state.py) saves a
 * `tf.train.Checkpoint` of the model, `ckpt_saved_epoch`, and since TensorFlow 2.11
 * `ckpt_saved_batch` and `train_counter`, through a `tf.train.CheckpointManager` (`max_to_keep=1`)
 * into `backup_dir/chief/`: `checkpoint` names the newest (`model_checkpoint_path: "ckpt-4"`), and
 * `ckpt-4.index` / `ckpt-4.data-*` hold it. The N of `ckpt-N` is the checkpoint's save counter, which
 * counts backups, not epochs. `ckpt_saved_epoch` is the index of the epoch the backup was taken in;
 * with the default `save_freq="epoch"` that epoch has just ended, so `ckpt_saved_epoch + 1` epochs
 * are finished. `train_counter` counts the model's train steps (restored on resume, so global).
 */
import path from 'node:path/posix';
import { bundleDataFile, DT_INT64, readBundleIndex, type BundleIndex } from './tf-bundle.js';
import type { Reading, RunView } from './types.js';

/** The CheckpointManager state file of the chief's backup. */
const STATE_FILE = /(^|\/)chief\/checkpoint$/;
/** The biggest index read (8 MiB): one entry of about 100 bytes per variable. */
const MAX_INDEX_BYTES = 8 * 1024 * 1024;
const EPOCH_KEY = 'ckpt_saved_epoch/.ATTRIBUTES/VARIABLE_VALUE';
const STEP_KEY = 'train_counter/.ATTRIBUTES/VARIABLE_VALUE';

/**
 * Progress from the newest `chief/checkpoint` whose named checkpoint holds `ckpt_saved_epoch`:
 * `epoch` = `ckpt_saved_epoch + 1` (finished epochs, for `save_freq="epoch"`; with `save_freq=N`
 * batches the epoch in progress counts as finished), `step` = `train_counter` (null before
 * TensorFlow 2.11). Null when there is none, or it names a checkpoint that is gone or unreadable.
 */
export async function readTfKerasBackup(view: RunView): Promise<Reading | null> {
  const states = view.files.filter((f) => STATE_FILE.test(f.path)).sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const state of states.slice(0, 2)) {
    const text = await view.read(state.path);
    const name = text === null ? null : newestCheckpoint(text);
    if (!name) continue;
    const prefix = path.join(path.dirname(state.path), name);
    const indexBytes = await view.readPrefix(`${prefix}.index`, MAX_INDEX_BYTES);
    const index = indexBytes && indexBytes.length < MAX_INDEX_BYTES ? readBundleIndex(indexBytes) : null;
    if (!index) continue;
    const epoch = await readInt64(view, index, prefix, EPOCH_KEY);
    if (epoch === null || epoch < 0) continue;
    const step = await readInt64(view, index, prefix, STEP_KEY);
    const atMs = (await view.mtimeMs(`${prefix}.index`)) ?? state.mtimeMs;
    return { epoch: epoch + 1, step: step !== null && step >= 0 ? step : null, loss: null, metrics: {}, atMs };
  }
  return null;
}

/**
 * The checkpoint `model_checkpoint_path` names in a `CheckpointState` text proto, as a file name
 * beside the state file (CheckpointManager writes paths relative to it); null when absent or
 * outside the folder.
 */
function newestCheckpoint(text: string): string | null {
  const m = /^model_checkpoint_path:\s*"((?:[^"\\]|\\.)*)"\s*$/m.exec(text);
  const name = m ? path.basename((m[1] as string).replace(/\\(.)/g, '$1')) : '';
  return name && name !== '.' && name !== '..' ? name : null;
}

/** The scalar int64 stored under `key`, or null when it is absent, not a scalar int64, or unreadable. */
async function readInt64(view: RunView, index: BundleIndex, prefix: string, key: string): Promise<number | null> {
  const entry = index.entries.get(key);
  if (!entry || entry.dtype !== DT_INT64 || entry.size !== 8 || entry.shardId >= index.numShards) return null;
  const bytes = await view.readRange(bundleDataFile(prefix, entry.shardId, index.numShards), entry.offset, 8);
  if (!bytes) return null;
  const value = bytes.readBigInt64LE(0);
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : null;
}
