/**
 * How a trainer preset's reading and `.ckptd-progress.json` combine into one `Progress`.
 *
 * The rule: the more recent reading wins, value by value. `.ckptd-progress.json` wins when its
 * mtime is strictly newer than the newest file the preset read (a tie goes to the preset, whose
 * files the trainer wrote). A value the winner lacks (null) is taken from the other reading, and
 * metrics merge key by key with the winner's values on top. `source` names what contributed:
 * `hf`, `ckptd-progress`, or both as `hf+ckptd-progress`. `trainer` comes from the preset alone.
 */
import type { Progress } from '../policy/types.js';
import { CKPTD_PROGRESS_SOURCE } from './ckptd-progress-file.js';
import type { NamedReading, Reading } from './types.js';

/**
 * Merges what the configured source found (`own`, null = nothing) with the `.ckptd-progress.json`
 * reading (`manual`) by the rule above. With neither, the result is the empty progress with
 * `source: null`. The result shares no object with its inputs.
 */
export function mergeReadings(own: NamedReading | null, manual: Reading | null): Progress {
  if (own && manual) {
    const [winner, other] = manual.atMs > own.reading.atMs ? [manual, own.reading] : [own.reading, manual];
    return {
      epoch: winner.epoch ?? other.epoch,
      step: winner.step ?? other.step,
      loss: winner.loss ?? other.loss,
      metrics: { ...other.metrics, ...winner.metrics },
      source: `${own.name}+${CKPTD_PROGRESS_SOURCE}`,
      ...trainerOf(own.reading),
    };
  }
  if (own) return toProgress(own.reading, own.name);
  if (manual) return toProgress(manual, CKPTD_PROGRESS_SOURCE);
  return { epoch: null, step: null, loss: null, metrics: {}, source: null };
}

function toProgress(r: Reading, source: string): Progress {
  return { epoch: r.epoch, step: r.step, loss: r.loss, metrics: { ...r.metrics }, source, ...trainerOf(r) };
}

/** `{trainer}` as a copy when the reading has one, else nothing (the key stays absent). */
function trainerOf(r: Reading): Pick<Progress, 'trainer'> {
  return r.trainer ? { trainer: { ...r.trainer, options: { ...r.trainer.options } } } : {};
}
