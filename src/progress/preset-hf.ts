/**
 * The `hf` preset: Hugging Face `transformers.Trainer` output folders.
 *
 * The Trainer writes `checkpoint-<global_step>/trainer_state.json` at every save (and
 * `trainer_state.json` at the top of `output_dir` on `save_state()`), a `TrainerState` dump:
 * `global_step`, `epoch` (a float: 1.5 = half-way through the second epoch), and `log_history`, a
 * list of logged dicts such as `{"epoch": 0.5, "grad_norm": 1.2, "learning_rate": 4e-05,
 * "loss": 2.31, "step": 500}` and `{"epoch": 1.0, "eval_loss": 1.9, ..., "step": 1000}`.
 */
import path from 'node:path/posix';
import { readLongTrainerState } from './hf-long-state.js';
import { isPlainObject, toCount, toNumber } from './numbers.js';
import { parseDocument } from './parse-document.js';
import type { Reading, RunFile, RunView } from './types.js';

const STATE_FILE = 'trainer_state.json';
const CHECKPOINT_DIR = /^checkpoint-(\d+)$/;
/** The Trainer writes a checkpoint under this name, then renames it: never a finished state. */
const STAGING_DIR = /(?:^|\/)tmp-checkpoint-[^/]*\//;
/** Keys of a `log_history` entry that say where training was, not how it went. */
const POSITION_KEYS = new Set(['epoch', 'step']);

/**
 * Progress from the newest `trainer_state.json`: the one in the `checkpoint-N` folder with the
 * highest N (at any depth; `tmp-checkpoint-N` staging folders never count), compared with any
 * other `trainer_state.json` (the top-level one `save_state()` writes) by `global_step`, then
 * mtime. A candidate that is malformed or lacks both `global_step` and `epoch` is skipped for the
 * next best. `step` = `global_step`, `epoch` = `epoch`, `loss` = the last `loss` in `log_history`,
 * metrics = the latest value of every other numeric key in `log_history` (`eval_loss`,
 * `learning_rate`, `grad_norm`, `train_loss`, ...; see `fromLogHistory`). A file past the read cap
 * is read from its two ends (`hf-long-state.ts`): its newest log entries only. Null when no
 * candidate yields.
 */
export async function readHf(view: RunView): Promise<Reading | null> {
  const checkpoints: { file: RunFile; n: number }[] = [];
  const others: RunFile[] = [];
  for (const file of view.files) {
    if (path.basename(file.path) !== STATE_FILE || STAGING_DIR.test(file.path)) continue;
    const m = CHECKPOINT_DIR.exec(path.basename(path.dirname(file.path)));
    if (m) checkpoints.push({ file, n: Number(m[1]) });
    else others.push(file);
  }
  checkpoints.sort((a, b) => b.n - a.n || b.file.mtimeMs - a.file.mtimeMs);
  others.sort((a, b) => b.mtimeMs - a.mtimeMs);

  let best: Reading | null = null;
  // The newest checkpoint normally yields; a few older ones cover a damaged newest file.
  for (const { file } of checkpoints.slice(0, 3)) {
    best = await readStateFile(view, file);
    if (best) break;
  }
  for (const file of others.slice(0, 2)) {
    const r = await readStateFile(view, file);
    if (r && (!best || isAhead(r, best))) best = r;
  }
  return best;
}

/** True when `a` is further along than `b`: a higher step, or the same step and a newer file. */
function isAhead(a: Reading, b: Reading): boolean {
  const sa = a.step ?? -1;
  const sb = b.step ?? -1;
  return sa !== sb ? sa > sb : a.atMs > b.atMs;
}

async function readStateFile(view: RunView, file: RunFile): Promise<Reading | null> {
  const text = await view.read(file.path);
  // Null: missing, or past the read cap (a long run's log_history); the latter reads from its ends.
  const state = text === null ? await readLongTrainerState(view, file.path) : parseDocument(text, file.path);
  if (!isPlainObject(state)) return null;
  const step = toCount(state.global_step);
  const epoch = toCount(state.epoch);
  if (step === null && epoch === null) return null;
  const { loss, metrics } = fromLogHistory(state.log_history);
  return { epoch, step, loss, metrics, atMs: file.mtimeMs };
}

/**
 * The last logged `loss` and the latest value of every other numeric key, scanning `log_history`
 * from the end. The latest entry holding a key decides its value: a `NaN` loss logged last reads as
 * null rather than as an older, finite loss.
 */
export function fromLogHistory(history: unknown): { loss: number | null; metrics: Record<string, number> } {
  const metrics: Record<string, number> = {};
  if (!Array.isArray(history)) return { loss: null, metrics };
  let loss: number | null = null;
  const seen = new Set<string>();
  for (let i = history.length - 1; i >= 0; i--) {
    const entry: unknown = history[i];
    if (!isPlainObject(entry)) continue;
    for (const [k, v] of Object.entries(entry)) {
      if (seen.has(k) || POSITION_KEYS.has(k)) continue;
      seen.add(k);
      const n = toNumber(v);
      if (k === 'loss') loss = n;
      else if (n !== null) metrics[k] = n;
    }
  }
  return { loss, metrics };
}
