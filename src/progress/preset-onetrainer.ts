/**
 * The `onetrainer` preset: OneTrainer workspaces.
 *
 * OneTrainer names backups `backup/<YYYY-MM-DD_HH-MM-SS>-backup-<global_step>-<epoch>-<epoch_step>/`
 * and saves `save/<prefix><YYYY-MM-DD_HH-MM-SS>-save-<global_step>-<epoch>-<epoch_step><ext>`
 * (`TrainProgress.filename_string()`; `ext` is empty for diffusers folders). Each backup folder
 * holds `meta.json`: `{"train_progress": {"epoch", "epoch_step", "epoch_sample", "global_step"}, ...}`.
 * `epoch` is OneTrainer's 0-based epoch counter, i.e. the number of finished epochs.
 */
import path from 'node:path/posix';
import { isPlainObject, toCount } from './numbers.js';
import { pickFurthest } from './pick-furthest.js';
import { readDocument } from './read-document.js';
import type { Reading, RunView } from './types.js';

const NAME = /\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}-(backup|save)-(\d+)-(\d+)-(\d+)(?=$|\.)/;

/** A OneTrainer backup or save name, taken apart. */
export interface OneTrainerName {
  kind: 'backup' | 'save';
  step: number;
  epoch: number;
  epochStep: number;
}

/** A backup or save name taken apart; null when `name` is neither. */
export function parseOneTrainerName(name: string): OneTrainerName | null {
  const m = NAME.exec(name);
  if (!m) return null;
  return { kind: m[1] as 'backup' | 'save', step: Number(m[2]), epoch: Number(m[3]), epochStep: Number(m[4]) };
}

/**
 * Progress from the backup or save furthest along (highest global step, then epoch, then newest
 * mtime), matched on every path segment. When the winner is a backup folder whose `meta.json` is
 * listed and holds `train_progress`, its values replace the name's (and add `epoch_sample`).
 * `epoch_step` (and `epoch_sample`) go to metrics; OneTrainer writes no loss outside TensorBoard.
 * Null when nothing matches.
 */
export async function readOneTrainer(view: RunView): Promise<Reading | null> {
  const candidates: (OneTrainerName & { dir: string; mtimeMs: number })[] = [];
  for (const file of view.files) {
    const segments = file.path.split('/');
    segments.forEach((segment, i) => {
      const parsed = parseOneTrainerName(segment);
      if (parsed) candidates.push({ ...parsed, dir: segments.slice(0, i + 1).join('/'), mtimeMs: file.mtimeMs });
    });
  }
  const best = pickFurthest(candidates);
  if (!best) return null;
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
