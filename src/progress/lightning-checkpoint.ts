/**
 * What a PyTorch Lightning checkpoint file says of progress, read without torch and without
 * executing anything.
 *
 * A `.ckpt` is `torch.save(_CheckpointConnector.dump_checkpoint())`: a zip whose one folder
 * (`archive`, as Lightning saves through a file object) holds `data.pkl`, stored uncompressed, a
 * protocol-2 pickle of a dict that starts `epoch` (`trainer.current_epoch`), `global_step`,
 * `pytorch-lightning_version`, `state_dict` (the tensors), `loops` (each loop's `state_dict()`:
 * progress counters as plain ints and bools), then callbacks, optimizer states and hparams. A
 * DeepSpeed folder's `checkpoint/mp_rank_00_model_states.pt` (DeepSpeed's `torch.save` by path: the
 * zip's folder is the file's stem) holds DeepSpeed's keys, then that dict without `state_dict`.
 */
import { isPickleDict, readPicklePrefix, type PickleDict } from './pickle-prefix.js';
import type { RunView } from './types.js';

/**
 * The most of a checkpoint's `data.pkl` read (8 MiB): the `loops` come after one small entry per
 * tensor of the `state_dict` (about 100 bytes each), so this covers models of tens of thousands of
 * tensors; a bigger one still gives `epoch` and `global_step`. In a DeepSpeed folder's model states
 * the whole dict comes after DeepSpeed's keys (the weights, then each one's shape again): about
 * half as many tensors, and nothing at all from a bigger one.
 */
export const MAX_CHECKPOINT_PICKLE_BYTES = 8 * 1024 * 1024;

/** What one checkpoint file holds; each value null when absent or not read. */
export interface LightningCheckpoint {
  /** `epoch`: `trainer.current_epoch` when it was saved, which counts the epochs the fit loop had completed. */
  epoch: number | null;
  /** `global_step`: optimizer steps taken. */
  step: number | null;
  /** Epochs whose training batches were all done, from the fit loop's counters (`finishedEpochs`). */
  finishedEpochs: number | null;
}

/**
 * The pickle of a `torch.save` zip: `<folder>/data.pkl`, the folder being that of the archive's
 * first entry, as `PyTorchStreamReader` finds it (`archive/` for Lightning, the file's stem for
 * files older torch saved by path). Null when there is none.
 */
export function torchPickleEntry(names: readonly string[]): string | null {
  const first = names[0] ?? '';
  const slash = first.indexOf('/');
  if (slash <= 0) return null;
  const name = `${first.slice(0, slash)}/data.pkl`;
  return names.includes(name) ? name : null;
}

/**
 * Reads the checkpoint `rel` of the run: `epoch` and `global_step` from the start of its pickle and
 * `finishedEpochs` from its `loops`. Null when it is not a readable `torch.save` zip of a dict;
 * never rejects.
 */
export async function readLightningCheckpoint(view: RunView, rel: string): Promise<LightningCheckpoint | null> {
  const bytes = await view.readZipPrefix(rel, torchPickleEntry, MAX_CHECKPOINT_PICKLE_BYTES);
  if (!bytes) return null;
  const read = readPicklePrefix(bytes, { objects: true });
  const doc = read.value;
  if (!isPickleDict(doc)) return null;
  const complete = (value: unknown): value is PickleDict => isPickleDict(value) && !read.incomplete.has(value);
  const loops = doc.loops;
  const fitLoop = complete(loops) ? loops.fit_loop : null;
  return { epoch: count(doc.epoch), step: count(doc.global_step), finishedEpochs: complete(fitLoop) ? finishedEpochs(fitLoop, complete) : null };
}

/**
 * Finished epochs from a fit loop's `state_dict()`. `trainer.current_epoch` (the name's and the
 * file's `epoch`) is `epoch_progress.current.completed`, which `_FitLoop.on_advance_end` raises only
 * after the epoch-end hooks, so it cannot tell a save at an epoch's end from one inside it:
 * - `on_train_epoch_end` (the default save): `processed` is already raised: `processed` epochs are done.
 * - `on_validation_end` of the epoch's last validation, and `on_train_batch_end` of its last batch
 *   (`every_n_train_steps`): the epoch started (`started` > `processed`) and its batch loop is on
 *   the last batch (`epoch_loop.batch_progress.is_last_batch`): `processed + 1`.
 * - any save inside an epoch: `processed`, the epochs before it.
 * - `on_train_end` after `max_epochs`: `started` = `processed` = `max_epochs`.
 * Null when a counter is missing or was not read whole.
 */
export function finishedEpochs(fitLoop: PickleDict, complete: (value: unknown) => value is PickleDict): number | null {
  const epochs = fitLoop.epoch_progress;
  const current = complete(epochs) ? epochs.current : null;
  const batches = fitLoop['epoch_loop.batch_progress'];
  if (!complete(current) || !complete(batches)) return null;
  const started = count(current.started);
  const processed = count(current.processed);
  const lastBatch = batches.is_last_batch;
  if (started === null || processed === null || typeof lastBatch !== 'boolean') return null;
  return started > processed && lastBatch ? processed + 1 : processed;
}

/** A pickled int that counts something: a safe non-negative integer, else null. */
function count(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
}
