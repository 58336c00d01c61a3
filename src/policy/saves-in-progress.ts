/**
 * Checkpoint folders a trainer is still writing, told from the run's file list alone. Hugging Face
 * `Trainer._save_checkpoint` writes `checkpoint-N/` one file after another: the model (or its
 * shards and index), `optimizer.pt`, `scheduler.pt`, `rng_state*.pth`, and `trainer_state.json`
 * last; between them it can pause for longer than `settle` with no file open (safetensors
 * serializes the whole model in memory first; FSDP and DeepSpeed gather the optimizer state across
 * GPUs). A folder without its `trainer_state.json` is a save in progress (or one the trainer died
 * in): captured as it is, it would be the newest checkpoint `get_last_checkpoint` resumes from,
 * without optimizer or trainer state. Pure: the shell passes the relative paths of the run's files.
 */

/** The file the Trainer writes last into every `checkpoint-N/`. */
export const HF_STATE_FILE = 'trainer_state.json';
const CHECKPOINT_DIR = /^checkpoint-\d+$/;

/**
 * Which folders to judge: `hf` (the run's progress is the hf preset) every `checkpoint-N/`;
 * `auto` only once the run shows the Trainer's layout (some `checkpoint-N/` holds its
 * `trainer_state.json`), so that other trainers' folders of that name are never held back.
 */
export type InProgressRule = 'hf' | 'auto';

/**
 * The `checkpoint-N` folders (relative POSIX paths, at any depth; a file's innermost such folder
 * counts, so DeepSpeed's `checkpoint-N/global_stepN/...` belongs to `checkpoint-N`) that hold
 * files but not their `trainer_state.json`, sorted.
 */
export function hfCheckpointsInProgress(files: readonly string[], rule: InProgressRule): string[] {
  const complete = new Map<string, boolean>();
  for (const file of files) {
    const parts = file.split('/');
    for (let i = parts.length - 2; i >= 0; i--) {
      if (!CHECKPOINT_DIR.test(parts[i]!)) continue;
      const folder = parts.slice(0, i + 1).join('/');
      const isState = i === parts.length - 2 && parts[i + 1] === HF_STATE_FILE;
      complete.set(folder, (complete.get(folder) ?? false) || isState);
      break;
    }
  }
  const values = [...complete.values()];
  if (rule === 'auto' && !values.includes(true)) return [];
  return [...complete]
    .filter(([, done]) => !done)
    .map(([folder]) => folder)
    .sort();
}
