/**
 * Writes an sd-scripts `output_dir` file for file, in the order and with the names the trainer
 * uses (sd-scripts `train_network.py` training loop and `library/train_util.py`), one minute per
 * save so mtimes order the saves as they would on disk.
 */
import fs from 'node:fs';
import path from 'node:path';
import { put } from './fixtures.js';
import { safetensorsFile } from './model-files.js';

export interface KohyaRun {
  /** Folder inside the temp run folder (`--output_dir`). */
  dir: string;
  /** `--output_name`; null: sd-scripts' defaults `epoch`, `at` and `last`. */
  name: string | null;
  /** Optimizer steps per epoch. */
  stepsPerEpoch: number;
  /** `--max_train_epochs`. */
  epochs: number;
  /** `--save_every_n_epochs` (null: not given). */
  everyEpochs: number | null;
  /** `--save_every_n_steps` (null: not given). */
  everySteps: number | null;
  /** `--save_last_n_epochs` (null: every epoch save is kept). */
  lastEpochs?: number | null;
  /** `--save_state`. */
  saveState: boolean;
  /**
   * Whether the script writes `train_state.json` into its states: `train_network.py` and its
   * `*_train_network.py` variants do (`save_model_hook`); `sdxl_train.py`, `fine_tune.py`,
   * `train_db.py` do not.
   */
  trainStateJson: boolean;
  /** Minute of the first save. */
  startMinute: number;
  /** Global step after which the process is killed (no final save); null: it finishes. */
  killedAfterStep?: number | null;
  /** `--no_metadata`: the models carry no `ss_epoch` / `ss_steps`. */
  noMetadata?: boolean;
}

/**
 * Plays the run's saves: step saves inside the loop (`global_step % save_every_n_steps == 0`),
 * epoch saves at epoch end except the last epoch (`epoch + 1 < num_train_epochs`), removal of
 * old epoch models (`get_remove_epoch_no`), and at the end `NAME-state` (with `--save_state`)
 * then the final `NAME.safetensors` (`get_last_ckpt_name`). Returns the minute after the last save.
 */
export function writeKohyaRun(root: string, run: KohyaRun): number {
  const epochName = run.name ?? 'epoch';
  const stepName = run.name ?? 'at';
  const lastName = run.name ?? 'last';
  let minute = run.startMinute;
  let globalStep = 0;
  for (let epoch = 0; epoch < run.epochs; epoch++) {
    // `current_epoch.value = epoch + 1` as the epoch starts: the epoch in progress, from 1.
    const currentEpoch = epoch + 1;
    for (let i = 0; i < run.stepsPerEpoch; i++) {
      globalStep += 1;
      if (run.everySteps !== null && globalStep % run.everySteps === 0) {
        const base = `${stepName}-step${pad(globalStep, 8)}`;
        // `save_model(ckpt_name, ..., global_step, epoch)`: the epochs finished before this one.
        put(root, `${run.dir}/${base}.safetensors`, lora(run, epoch, globalStep), minute);
        if (run.saveState) writeKohyaState(root, `${run.dir}/${base}-state`, trainState(run, currentEpoch, globalStep), minute);
        minute += 1;
      }
      if (run.killedAfterStep != null && globalStep >= run.killedAfterStep) return minute;
    }
    const epochNo = epoch + 1;
    if (run.everyEpochs !== null && epochNo % run.everyEpochs === 0 && epochNo < run.epochs) {
      put(root, `${run.dir}/${epochName}-${pad(epochNo, 6)}.safetensors`, lora(run, epochNo, globalStep), minute);
      const removeNo = run.lastEpochs != null ? epochNo - run.everyEpochs * run.lastEpochs : -1;
      if (removeNo >= 0) fs.rmSync(path.join(root, run.dir, `${epochName}-${pad(removeNo, 6)}.safetensors`), { force: true });
      if (run.saveState) writeKohyaState(root, `${run.dir}/${epochName}-${pad(epochNo, 6)}-state`, trainState(run, currentEpoch, globalStep), minute);
      minute += 1;
    }
  }
  if (run.saveState) writeKohyaState(root, `${run.dir}/${lastName}-state`, trainState(run, run.epochs, globalStep), minute);
  put(root, `${run.dir}/${lastName}.safetensors`, lora(run, run.epochs, globalStep), minute + 1);
  return minute + 2;
}

/**
 * `accelerator.save_state(dir)`: the pre-hook's `train_state.json` when given (`train_network.py`
 * `save_model_hook`), then accelerate's files.
 */
export function writeKohyaState(root: string, dir: string, trainStateJson: string | null, minute: number): void {
  if (trainStateJson !== null) put(root, `${dir}/train_state.json`, trainStateJson, minute);
  for (const file of ['model.safetensors', 'optimizer.bin', 'scheduler.bin', 'sampler.bin', 'random_states_0.pkl']) put(root, `${dir}/${file}`, 'x', minute);
}

/**
 * `train_state.json` as `save_model_hook` writes it: `json.dump({"current_epoch": current_epoch.value,
 * "current_step": current_step.value + 1})`, which is the global step of the save; null for the
 * scripts that write none.
 */
function trainState(run: KohyaRun, currentEpoch: number, step: number): string | null {
  return run.trainStateJson ? `{"current_epoch": ${currentEpoch}, "current_step": ${step}}` : null;
}

/**
 * A LoRA as `train_network.py`'s `save_model(ckpt_name, network, steps, epoch_no)` writes it: a
 * safetensors file whose metadata holds `ss_epoch` and `ss_steps` (left out with `--no_metadata`).
 */
function lora(run: KohyaRun, epochNo: number, steps: number): Buffer {
  const metadata: Record<string, string> = { ss_network_module: 'networks.lora' };
  if (!run.noMetadata) Object.assign(metadata, { ss_epoch: String(epochNo), ss_steps: String(steps) });
  return safetensorsFile({ 'lora_unet_down_blocks_0.alpha': { dtype: 'F32', shape: [] } }, metadata);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}
