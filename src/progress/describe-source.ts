/**
 * What a run's progress source found, in one phrase for the daemon's start line. Pure.
 */
import type { ProgressSpec } from '../config/types.js';
import type { Progress } from '../policy/types.js';
import { formatProgress } from '../util/format.js';
import { CKPTD_PROGRESS_FILE, CKPTD_PROGRESS_SOURCE } from './ckptd-progress-file.js';

/** What to write when nothing tells the progress: a file source, or `ckptd progress` calls. */
export const NO_SOURCE_ADVICE =
  'epochs and steps stay unknown; set progress: {file: metrics.json, step: step} for a file the training script writes, or call `ckptd progress --step N` from the script';

/**
 * `progress: SPEC found SOURCE (VALUES)`, where SPEC is how the config names the source and SOURCE
 * what yielded `progress` (a preset's name, `file`, `filename`, `.ckptd-progress.json`, or both
 * joined by "and"), e.g. `progress: auto found hf (epoch 2, step 1000, loss 1.65)`. `none` is just
 * `progress: none`. `auto` finding nothing says so and ends with `NO_SOURCE_ADVICE`; a source the
 * config names (a preset, a file) finding nothing has found nothing yet (a run that has not written
 * its first checkpoint): it says it looks again, not that another source should be set.
 */
export function describeProgressSource(spec: ProgressSpec, progress: Progress): string {
  if (spec.kind === 'none' && progress.source === null) return 'progress: none';
  const named = `progress: ${specName(spec)}`;
  if (progress.source === null && spec.kind === 'auto') return `${named} found nothing: ${NO_SOURCE_ADVICE}`;
  if (progress.source === null) return `${named} found nothing yet (looked for again at every change; if it stays so, the trainer does not write what it reads)`;
  return `${named} found ${sourceName(progress.source)} (${formatProgress(progress)})`;
}

function specName(spec: ProgressSpec): string {
  switch (spec.kind) {
    case 'none':
    case 'auto':
      return spec.kind;
    case 'preset':
      return spec.preset;
    case 'file':
      return `{file: ${spec.file}}`;
    case 'filename':
      return `{filename: ${spec.pattern}}`;
  }
}

function sourceName(source: string): string {
  return source
    .split('+')
    .map((s) => (s === CKPTD_PROGRESS_SOURCE ? CKPTD_PROGRESS_FILE : s))
    .join(' and ');
}
