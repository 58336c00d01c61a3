/**
 * The `keras` preset: Keras 3 `keras.callbacks.BackupAndRestore`.
 *
 * The callback keeps `latest.weights.h5` and `training_metadata.json` in its `backup_dir`,
 * rewriting both at every save: `{"epoch": 4, "batch": 0}`. `epoch` counts finished epochs (the
 * epoch training resumes at, 0-based); `batch` is the last batch seen inside the current epoch when
 * `save_freq` is a number of batches, else 0. The previous pair is kept as `_training_metadata.json`.
 */
import path from 'node:path/posix';
import { isPlainObject, toCount, toNumber } from './numbers.js';
import { readDocument } from './read-document.js';
import type { Reading, RunView } from './types.js';

const METADATA_FILE = 'training_metadata.json';

/**
 * Progress from the newest `training_metadata.json` anywhere in the run: `epoch` = `epoch`;
 * `batch` goes to metrics (it restarts every epoch, so it is not a global step); `step` only from a
 * `step` or `global_step` key, which Keras itself does not write. Null when there is no such file
 * or it holds no epoch.
 */
export async function readKeras(view: RunView): Promise<Reading | null> {
  const files = view.files.filter((f) => path.basename(f.path) === METADATA_FILE).sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const file of files.slice(0, 2)) {
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
