/**
 * The `{filename: REGEX}` source: named groups `epoch`, `step` and `loss` read from file names,
 * e.g. `{filename: "model_e(?<epoch>\\d+)_s(?<step>\\d+)\\.pt$"}`.
 */
import path from 'node:path/posix';
import { toCount, toNumber } from './numbers.js';
import { pickFurthest } from './pick-furthest.js';
import type { Reading, RunView, Source } from './types.js';

/**
 * A source matching `pattern` against each listed file's base name, then (when the base name does
 * not match) its relative path. A match counts when at least one of its `epoch`, `step`, `loss`
 * groups holds a number. The match furthest along wins: highest step, then highest epoch, then
 * newest mtime. Null when nothing matches, or when `pattern` is not a valid regular expression
 * (config validation reports that).
 */
export function filenameSource(pattern: string): Source {
  let re: RegExp | null;
  try {
    re = new RegExp(pattern);
  } catch {
    re = null;
  }
  return async (view: RunView): Promise<Reading | null> => {
    if (!re) return null;
    const candidates = [];
    for (const file of view.files) {
      const groups = (re.exec(path.basename(file.path)) ?? re.exec(file.path))?.groups;
      if (!groups) continue;
      const epoch = toCount(groups.epoch);
      const step = toCount(groups.step);
      const loss = toNumber(groups.loss);
      if (epoch !== null || step !== null || loss !== null) candidates.push({ epoch, step, loss, mtimeMs: file.mtimeMs });
    }
    const best = pickFurthest(candidates);
    return best ? { epoch: best.epoch, step: best.step, loss: best.loss, metrics: {}, atMs: best.mtimeMs } : null;
  };
}
