/**
 * The `keras` preset: Keras 3 `keras.callbacks.BackupAndRestore` (keras/src/callbacks/backup_and_restore.py).
 *
 * `_save_model` keeps `latest.weights.h5` and `training_metadata.json` in its `backup_dir`,
 * rewriting both at every save: `{"epoch": 4, "batch": 0}` (Keras 3.1 and later; 3.0 wrote only
 * the weights). `epoch` counts finished epochs (the epoch training resumes at, 0-based); `batch` is
 * the last batch seen inside the current epoch when `save_freq` is a number of batches, else 0.
 * With `double_checkpoint=True` (Keras 3.7 and later) the previous pair is first copied to
 * `latest.weights.h5.bkp` and `training_metadata.json.bkp`. `on_train_end` deletes the folder
 * unless `delete_checkpoint=False`. After a resume, batch-level saves (`save_freq=N`) write
 * `"epoch": 0` until the first epoch ends (`_load_model` restores the model's initial epoch, not the
 * callback's `_current_epoch`): the progress read says so too.
 *
 * tf.keras 2.x's `BackupAndRestore` keeps TensorFlow checkpoints in `backup_dir/chief/` instead:
 * `keras-tf-backup.ts` reads those.
 */
import path from 'node:path/posix';
import { isPlainObject, toCount, toNumber } from './numbers.js';
import { readTfKerasBackup } from './keras-tf-backup.js';
import { readDocument } from './read-document.js';
import type { Reading, RunView } from './types.js';

/** The metadata file and its `double_checkpoint` copy. */
const METADATA_FILES = ['training_metadata.json', 'training_metadata.json.bkp'];
/** How many metadata files are tried, newest first: the current pair and the one before. */
const MAX_TRIED = 3;

/**
 * Progress from Keras 3's `training_metadata.json` (`readKerasMetadata`) or tf.keras 2.x's
 * `chief/checkpoint` (`readTfKerasBackup`), whichever is newer. Null when neither is found.
 */
export async function readKeras(view: RunView): Promise<Reading | null> {
  const readings = [await readKerasMetadata(view), await readTfKerasBackup(view)].filter((r) => r !== null);
  return readings.reduce<Reading | null>((newest, r) => (newest && newest.atMs >= r.atMs ? newest : r), null);
}

/**
 * Progress from the newest `training_metadata.json` anywhere in the run, or the next newest (its
 * `.bkp` copy, which holds the save before) when that one does not read, as while it is being
 * rewritten: `epoch` = `epoch`; `batch` goes to metrics (it restarts every epoch, so it is not a
 * global step); `step` only from a `step` or `global_step` key, which Keras itself does not write.
 * Null when there is no such file or none holds an epoch.
 */
export async function readKerasMetadata(view: RunView): Promise<Reading | null> {
  const files = view.files.filter((f) => METADATA_FILES.includes(path.basename(f.path))).sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const file of files.slice(0, MAX_TRIED)) {
    const doc = await readDocument(view, file.path);
    if (!isPlainObject(doc)) continue;
    const epoch = toCount(doc.epoch);
    if (epoch === null) continue;
    const batch = toNumber(doc.batch);
    return {
      epoch,
      step: toCount(doc.step ?? doc.global_step),
      loss: toNumber(doc.loss),
      metrics: batch === null ? {} : { batch },
      atMs: file.mtimeMs,
    };
  }
  return null;
}
