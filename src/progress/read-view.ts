/**
 * Progress from a `RunView` and a `progress:` spec: pure over the view, so the presets and the
 * merge rule can be tested without a disk. `read-progress.ts` builds the view from the disk.
 */
import type { ProgressSpec } from '../config/types.js';
import type { Progress } from '../policy/types.js';
import { readCkptdProgress } from './ckptd-progress-file.js';
import { mergeReadings } from './merge-readings.js';
import { AUTO_ORDER, PRESETS } from './presets.js';
import { fileSource } from './source-file.js';
import { filenameSource } from './source-filename.js';
import type { NamedReading, Reading, RunView } from './types.js';

/**
 * Runs the spec's own source (not `.ckptd-progress.json`) and names it: `hf`, `lightning`,
 * `keras`, `onetrainer`, `kohya`, `dfl`, `file` or `filename`. `auto` tries the presets in `AUTO_ORDER`
 * and reports the first that yields under its own name (`hf`, not `auto:hf`: the name says where
 * the values came from). Null when the source found nothing; `none` never finds anything.
 * Never rejects for bad trainer files.
 */
export async function readSpec(view: RunView, spec: ProgressSpec): Promise<NamedReading | null> {
  switch (spec.kind) {
    case 'none':
      return null;
    case 'preset':
      return named(spec.preset, await PRESETS[spec.preset](view));
    case 'file':
      return named('file', await fileSource(spec)(view));
    case 'filename':
      return named('filename', await filenameSource(spec.pattern)(view));
    case 'auto':
      for (const name of AUTO_ORDER) {
        const reading = await PRESETS[name](view);
        if (reading) return { name, reading };
      }
      return null;
  }
}

/**
 * The run's progress: the spec's source merged with `.ckptd-progress.json` by the rule in
 * `merge-readings.ts` (the newer reading wins value by value). Empty progress with `source: null` when
 * neither found anything. Never rejects for bad trainer files.
 */
export async function readProgressFromView(view: RunView, spec: ProgressSpec): Promise<Progress> {
  const [own, manual] = await Promise.all([readSpec(view, spec), readCkptdProgress(view)]);
  return mergeReadings(own, manual);
}

function named(name: string, reading: Reading | null): NamedReading | null {
  return reading ? { name, reading } : null;
}
