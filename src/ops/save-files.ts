/**
 * Which files a save exports: those of `save.files`, all of them or the newest model's
 * (`save.pick`, decided by `policy/save-pick.ts`, chosen by `policy/pick-newest-model.ts`).
 */
import type { RunConfig } from '../config/types.js';
import { pickNewestModel } from '../policy/pick-newest-model.js';
import { savePickFor } from '../policy/save-pick.js';
import type { ScanEntry } from '../store/types.js';
import { matchModelFiles } from '../store/write-save.js';

/** The entries a save exports, and for the log what `save.pick` left out (null when nothing). */
export interface SaveFiles {
  entries: ScanEntry[];
  /** `save.pick newest: checkpoint-1000/; left out 1 older model: checkpoint-500/`. */
  picked: string | null;
}

/**
 * The entries of `entries` a save of `run` exports. Under `all` these are `entries` as given (the
 * store selects `save.files` from them); under `newest` only the matched files of the newest
 * model. `source` is what found the save's progress (`Progress.source`), which `auto` goes by.
 */
export function saveFilesOf(run: RunConfig, entries: ScanEntry[], source: string | null): SaveFiles {
  if (savePickFor(run.save.pick, run.progress, source) === 'all') return { entries, picked: null };
  const pick = pickNewestModel(matchModelFiles(entries, run.save.files));
  const older = pick.leftOut.length;
  if (pick.model === null || older === 0) return { entries, picked: null };
  const shown = pick.leftOut.slice(0, 3).join(', ') + (older > 3 ? `, and ${older - 3} more` : '');
  return { entries: pick.files, picked: `save.pick newest: ${pick.model}; left out ${older} older model${older === 1 ? '' : 's'}: ${shown}` };
}
