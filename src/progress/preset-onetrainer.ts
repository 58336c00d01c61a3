/**
 * The `onetrainer` preset: OneTrainer workspaces.
 *
 * OneTrainer names backups `backup/<YYYY-MM-DD_HH-MM-SS>-backup-<global_step>-<epoch>-<epoch_step>/`
 * (`GenericTrainer.__backup`) and saves
 * `save/<save_filename_prefix><YYYY-MM-DD_HH-MM-SS>-save-<global_step>-<epoch>-<epoch_step><ext>`
 * (`GenericTrainer.__save`; `ext` is empty for diffusers folders); the numbers are
 * `TrainProgress.filename_string()`, the timestamp `get_string_timestamp()` (local time). Each
 * backup folder holds `meta.json` (`InternalModelSaverMixin._save_internal_data`):
 * `{"train_progress": {"epoch", "epoch_step", "epoch_sample", "global_step"}}`. `epoch` is
 * OneTrainer's 0-based epoch counter, i.e. the number of finished epochs; `global_step` counts
 * batches (`TrainProgress.next_step`), the step OneTrainer's own `STEP` intervals use.
 */
import path from 'node:path/posix';
import { isPlainObject, toCount } from './numbers.js';
import { readDocument } from './read-document.js';
import type { Reading, RunView } from './types.js';

const NAME = /(\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})-(backup|save)-(\d+)-(\d+)-(\d+)(?=$|\.)/;

/** A OneTrainer backup or save name, taken apart. */
export interface OneTrainerName {
  kind: 'backup' | 'save';
  /** `YYYY-MM-DD_HH-MM-SS`: sorts as text in time order. */
  stamp: string;
  step: number;
  epoch: number;
  epochStep: number;
}

/**
 * A backup or save name taken apart; null when `name` is neither, or a count in it is past 2^53
 * (400 digits read as Infinity).
 */
export function parseOneTrainerName(name: string): OneTrainerName | null {
  const m = NAME.exec(name);
  if (!m) return null;
  const [step, epoch, epochStep] = [m[3], m[4], m[5]].map(Number) as [number, number, number];
  if (![step, epoch, epochStep].every(Number.isSafeInteger)) return null;
  return { kind: m[2] as 'backup' | 'save', stamp: m[1] as string, step, epoch, epochStep };
}

type Candidate = OneTrainerName & { dir: string; mtimeMs: number };

/**
 * Progress from the newest backup or save by the timestamp in its name, matched on every path
 * segment: the one OneTrainer itself continues from (`TrainConfig.get_last_backup_path`) and keeps
 * when it prunes (`GenericTrainer.__prune_backups`), both of which sort names newest first. So a
 * new run in a reused workspace is read, not an older run's higher step; mtimes do not matter
 * (a copied workspace keeps its names). Within one second: the higher step, then a backup (its
 * `meta.json` says more), then the newer mtime. When the winner is a backup folder whose
 * `meta.json` is listed and holds `train_progress`, its values replace the name's (and add
 * `epoch_sample`). `epoch_step` (and `epoch_sample`) go to metrics; OneTrainer writes no loss
 * outside TensorBoard. Null when nothing matches.
 */
export async function readOneTrainer(view: RunView): Promise<Reading | null> {
  let best: Candidate | null = null;
  for (const file of view.files) {
    // `NAME` holds `-backup-` or `-save-`: a path without either has no segment it matches.
    if (!file.path.includes('-backup-') && !file.path.includes('-save-')) continue;
    const segments = file.path.split('/');
    segments.forEach((segment, i) => {
      const parsed = parseOneTrainerName(segment);
      if (!parsed) return;
      const candidate = { ...parsed, dir: segments.slice(0, i + 1).join('/'), mtimeMs: file.mtimeMs };
      if (!best || newer(candidate, best)) best = candidate;
    });
  }
  return best ? readCandidate(view, best) : null;
}

function newer(a: Candidate, b: Candidate): boolean {
  if (a.stamp !== b.stamp) return a.stamp > b.stamp;
  const backupFirst = Number(a.kind === 'backup') - Number(b.kind === 'backup');
  return (a.step - b.step || backupFirst || a.mtimeMs - b.mtimeMs) > 0;
}

async function readCandidate(view: RunView, best: Candidate): Promise<Reading> {
  const reading: Reading = { epoch: best.epoch, step: best.step, loss: null, metrics: { epoch_step: best.epochStep }, atMs: best.mtimeMs };
  if (best.kind !== 'backup') return reading;

  const metaPath = path.join(best.dir, 'meta.json');
  const meta = view.files.find((f) => f.path === metaPath);
  if (!meta) return reading;
  const doc = await readDocument(view, meta.path);
  const tp = isPlainObject(doc) && isPlainObject(doc.train_progress) ? doc.train_progress : null;
  if (!tp) return reading;
  const metrics: Record<string, number> = { ...reading.metrics };
  const epochStep = toCount(tp.epoch_step);
  const epochSample = toCount(tp.epoch_sample);
  if (epochStep !== null) metrics.epoch_step = epochStep;
  if (epochSample !== null) metrics.epoch_sample = epochSample;
  return {
    epoch: toCount(tp.epoch) ?? reading.epoch,
    step: toCount(tp.global_step) ?? reading.step,
    loss: null,
    metrics,
    atMs: Math.max(reading.atMs, meta.mtimeMs),
  };
}
