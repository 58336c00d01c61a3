/**
 * The `dfl` preset: DeepFaceLab's model folder (`workspace/model`).
 *
 * At every save (`ModelBase.save()`: every 25 minutes in `mainscripts/Trainer.py`, at the first
 * iteration, at the target iteration, on `s` and at exit) DeepFaceLab writes, for the model it
 * trains, `{model}_summary.txt` (`dfl-summary.ts`), the weights (`{model}_encoder.npy`,
 * `_inter_AB.npy`, `_decoder.npy`, `_src_dst_opt.npy`, ...: pickled dicts of numpy arrays) and
 * `{model}_data.dat` (`dfl-data.ts`). The model read is the newest one (`dfl-files.ts`).
 */
import type { TrainerInfo } from '../policy/types.js';
import { readDflData } from './dfl-data.js';
import { newestDflModel } from './dfl-files.js';
import { parseDflSummary } from './dfl-summary.js';
import type { Reading, RunView } from './types.js';

/** `TrainerInfo.name` of DeepFaceLab models. */
export const DFL_TRAINER = 'DeepFaceLab';

/**
 * Progress of the newest model: `step` = `iter` of its `data.dat` (DeepFaceLab's iteration), else
 * the summary's "Current iteration" when `data.dat` is missing or unreadable; `loss` = the src loss
 * of the last `loss_history` entry (XSeg's only loss), metrics `src_loss` and `dst_loss` (two-loss
 * models); `trainer` = DeepFaceLab, the model's name and the summary's options. No epochs:
 * DeepFaceLab counts iterations only. `atMs` is the newest mtime of the files read. Null when no
 * model file gives an iteration.
 */
export async function readDfl(view: RunView): Promise<Reading | null> {
  const model = newestDflModel(view.files);
  if (!model) return null;
  const data = model.data ? await readDflData(view, model.data.path) : null;
  const summary = model.summary ? parseDflSummary(await view.read(model.summary.path)) : null;
  const step = data?.iter ?? summary?.iteration ?? null;
  if (step === null) return null;

  const losses = data?.lastLosses ?? null;
  const metrics: Record<string, number> = {};
  if (losses && losses.length >= 2) {
    metrics.src_loss = losses[0] as number;
    metrics.dst_loss = losses[1] as number;
  }
  const used = [data ? model.data : null, summary ? model.summary : null];
  const trainer: TrainerInfo = { name: DFL_TRAINER, model: model.name, options: summary?.options ?? {} };
  return {
    epoch: null,
    step,
    loss: losses?.[0] ?? null,
    metrics,
    atMs: Math.max(0, ...used.map((f) => f?.mtimeMs ?? 0)),
    trainer,
  };
}
