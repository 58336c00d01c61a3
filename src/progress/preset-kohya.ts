/**
 * The `kohya` preset: kohya-ss sd-scripts `--output_dir`s (names: `kohya-saves.ts`).
 *
 * `train_network.py` and its `*_train_network.py` variants write `train_state.json` into every
 * state folder (`save_model_hook`, run by `accelerator.save_state` before the state's files):
 * `{"current_epoch": 3, "current_step": 150}`. `current_step` is the global step of the save.
 * `current_epoch` is set to `epoch + 1` when an epoch starts, so it is the epoch in progress: in
 * a mid-epoch `NAME-stepNNNNNNNN-state` that epoch is not finished (2 finished when it says 3),
 * while `NAME-NNNNNN-state` (epoch end) and `NAME-state` (train end) are saved once it is.
 * `sdxl_train.py`, `fine_tune.py`, `train_db.py` (and the textual inversion and ControlNet
 * scripts) write no `train_state.json`: for them only the numbers in the names are read.
 * The network scripts also write `ss_epoch` and `ss_steps` into every model's safetensors metadata
 * (`save_model`, unless `--no_metadata`): finished epochs and the global step, for the final
 * `NAME.safetensors` (`num_train_epochs`) and for step saves (the epochs finished before it) too.
 */
import { listKohyaSaves, type KohyaSave } from './kohya-saves.js';
import { isPlainObject, toCount } from './numbers.js';
import { readDocument } from './read-document.js';
import { readSafetensorsHeaderOf } from './safetensors-header.js';
import type { Reading, RunView } from './types.js';

const STATE_FILE = 'train_state.json';

/**
 * Progress of the current run in the output folder:
 * 1. Its output name is that of the newest save (by mtime); saves of other names are earlier
 *    runs' (sd-scripts' default names `epoch`, `at`, `last` are one name).
 * 2. Within that name, saves of earlier runs are left out: walking from the newest save back in
 *    time, the first save further along than a strictly newer one (a higher epoch or step
 *    number), or a final model or last state older than a numbered save, was written by an
 *    earlier run; it and everything older are ignored. Within one run numbers only grow with
 *    time. An earlier run's saves of a kind the current run has not written yet (its step saves,
 *    when the new run has so far saved only epochs) are not told apart until the new run writes one.
 * 3. Of the rest, `epoch` is the highest finished epoch and `step` the highest step, from the
 *    names and from the `train_state.json` of the highest-numbered epoch state, the
 *    highest-numbered step state (its epoch less one) and the last state: states are chosen by
 *    their number, which saves sharing one mtime (a coarse clock, an archive) cannot blur.
 * `atMs` is the newest mtime among the current run's saves. A malformed `train_state.json` is
 * skipped. Null when neither the names nor a `train_state.json` give an epoch or a step.
 */
export async function readKohya(view: RunView): Promise<Reading | null> {
  const saves = listKohyaSaves(view.files);
  const newest = saves.reduce<KohyaSave | null>((a, b) => (!a || b.mtimeMs > a.mtimeMs ? b : a), null);
  if (!newest) return null;
  const run = currentRun(saves.filter((s) => s.key === newest.key));

  let epoch: number | null = null;
  let step: number | null = null;
  const raise = (e: number | null, s: number | null): void => {
    if (e !== null) epoch = Math.max(epoch ?? 0, e);
    if (s !== null) step = Math.max(step ?? 0, s);
  };
  for (const save of run) raise(save.epoch, save.step);
  for (const state of [highest(run, 'epoch-state'), highest(run, 'step-state'), highest(run, 'last-state')]) {
    if (!state) continue;
    const values = await readTrainState(view, `${state.path}/${STATE_FILE}`);
    if (!values) continue;
    const finished = state.kind === 'step-state' && values.currentEpoch !== null ? Math.max(values.currentEpoch - 1, 0) : values.currentEpoch;
    raise(finished, values.currentStep);
  }
  // The newest model file's own metadata: the final model's epoch, and a step save's epoch, which
  // no name carries.
  const model = newestModelFile(run, view.files);
  const meta = model ? (await readSafetensorsHeaderOf(view, model))?.metadata : undefined;
  if (meta) raise(toCount(meta.ss_epoch), toCount(meta.ss_steps));
  if (epoch === null && step === null) return null;
  return { epoch, step, loss: null, metrics: {}, atMs: run.reduce((n, s) => Math.max(n, s.mtimeMs), -Infinity) };
}

/** The saves of one name that belong to its newest run (rule 2 of `readKohya`). */
function currentRun(saves: readonly KohyaSave[]): KohyaSave[] {
  const byTime = [...saves].sort((a, b) => b.mtimeMs - a.mtimeMs);
  const kept: KohyaSave[] = [];
  // Lowest numbers and whether a numbered save was seen, among kept saves strictly newer than the one at hand.
  let minEpoch = Infinity;
  let minStep = Infinity;
  let numberedNewer = false;
  let folded = 0;
  for (const save of byTime) {
    for (; folded < kept.length && (kept[folded] as KohyaSave).mtimeMs > save.mtimeMs; folded++) {
      const k = kept[folded] as KohyaSave;
      if (k.epoch !== null) minEpoch = Math.min(minEpoch, k.epoch);
      if (k.step !== null) minStep = Math.min(minStep, k.step);
      if (k.kind !== 'final' && k.kind !== 'last-state') numberedNewer = true;
    }
    const ended = save.kind === 'final' || save.kind === 'last-state' ? numberedNewer : false;
    if (ended || (save.epoch ?? -1) > minEpoch || (save.step ?? -1) > minStep) break;
    kept.push(save);
  }
  return kept;
}

/** The path of the newest model of `saves` saved as a `.safetensors` file (not a state, not a diffusers folder). */
function newestModelFile(saves: readonly KohyaSave[], files: RunView['files']): string | null {
  const listed = new Set(files.map((f) => f.path));
  let best: KohyaSave | null = null;
  for (const s of saves) {
    if (!(s.kind === 'epoch' || s.kind === 'step' || s.kind === 'final') || !listed.has(`${s.path}.safetensors`)) continue;
    if (!best || s.mtimeMs > best.mtimeMs) best = s;
  }
  return best ? `${best.path}.safetensors` : null;
}

/** The save of `kind` with the highest number (a name has one last state, which has no number). */
function highest(saves: readonly KohyaSave[], kind: KohyaSave['kind']): KohyaSave | null {
  const number = (s: KohyaSave): number => s.epoch ?? s.step ?? 0;
  let best: KohyaSave | null = null;
  for (const s of saves) if (s.kind === kind && (!best || number(s) > number(best))) best = s;
  return best;
}

/** `current_epoch` and `current_step` of a listed `train_state.json`; null when missing or neither is a count. */
async function readTrainState(view: RunView, rel: string): Promise<{ currentEpoch: number | null; currentStep: number | null } | null> {
  if (!view.files.some((f) => f.path === rel)) return null;
  const doc = await readDocument(view, rel);
  if (!isPlainObject(doc)) return null;
  const currentEpoch = toCount(doc.current_epoch);
  const currentStep = toCount(doc.current_step);
  return currentEpoch === null && currentStep === null ? null : { currentEpoch, currentStep };
}
