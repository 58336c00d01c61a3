/**
 * Checkpoint folders a trainer is still writing, told from the run's file list alone. Pure: the
 * shell passes the relative paths of the run's files.
 *
 * Trainers that save a folder write it one file after another, and can pause between files for
 * longer than `settle` with no file open (safetensors serializes the whole model in memory first;
 * FSDP and DeepSpeed gather the optimizer state across GPUs). A folder without the file its
 * trainer writes last is a save in progress (or one the trainer died in): captured as it is, it
 * would be the newest checkpoint a resume picks, without its optimizer or trainer state.
 */

/** How one trainer saves a folder: which folders, and the file it writes into each last. */
export interface FolderSave {
  /** Matches the folder's own name. */
  folder: RegExp;
  /** Text every path under such a folder holds: the paths without it are never split (100,000 a look). */
  marker: string;
  /** The file written last, directly in the folder. */
  lastFile: string;
  /** Who writes it, for people. */
  writer: string;
}

/**
 * Hugging Face `Trainer._save_checkpoint`: `checkpoint-N/` gets the model (or its shards and
 * index), `optimizer.pt`, `scheduler.pt`, `rng_state*.pth`, then `trainer_state.json`.
 */
export const HF_CHECKPOINT: FolderSave = { folder: /^checkpoint-\d+$/, marker: 'checkpoint-', lastFile: 'trainer_state.json', writer: 'the Hugging Face Trainer' };

/**
 * accelerate `save_state` (kohya sd-scripts' `NAME-000005-state/`, `NAME-step00001000-state/`,
 * `NAME-state/`): the model, optimizer, scheduler, sampler and scaler states, then each process's
 * `random_states_<rank>.pkl`; rank 0 always writes one.
 */
export const ACCELERATE_STATE: FolderSave = { folder: /^.+-state$/, marker: '-state/', lastFile: 'random_states_0.pkl', writer: 'accelerate save_state' };

/**
 * Which folders to judge: `all` every folder of the layout; `evident` only once the run shows the
 * layout (some such folder holds its last file), so that other trainers' folders of that name are
 * never held back.
 */
export type InProgressRule = 'all' | 'evident';

/**
 * The folders of `save` (relative POSIX paths, at any depth; a file's innermost such folder counts,
 * so DeepSpeed's `checkpoint-N/global_stepN/...` belongs to `checkpoint-N`) that hold files but
 * not their last file, sorted.
 */
export function foldersInProgress(files: readonly string[], save: FolderSave, rule: InProgressRule): string[] {
  const complete = new Map<string, boolean>();
  for (const file of files) {
    if (!file.includes(save.marker)) continue;
    const parts = file.split('/');
    for (let i = parts.length - 2; i >= 0; i--) {
      if (!save.folder.test(parts[i]!)) continue;
      const folder = parts.slice(0, i + 1).join('/');
      const isLast = i === parts.length - 2 && parts[i + 1] === save.lastFile;
      complete.set(folder, (complete.get(folder) ?? false) || isLast);
      break;
    }
  }
  if (rule === 'evident' && ![...complete.values()].includes(true)) return [];
  // The newest complete folder of each kind: one older than it the trainer will never finish.
  const newestDone = new Map<string, bigint>();
  for (const [folder, done] of complete) {
    const n = numbered(folder);
    if (!done || n === null) continue;
    const seen = newestDone.get(n.kind);
    if (seen === undefined || n.number > seen) newestDone.set(n.kind, n.number);
  }
  return [...complete]
    .filter(([folder, done]) => !done && !abandoned(folder, newestDone))
    .map(([folder]) => folder)
    .sort();
}

/**
 * A folder's kind (its parent and its name with the last run of digits masked: `a/checkpoint-#`,
 * `lora-#-state`, `lora-step#-state`) and that number; null without digits.
 */
function numbered(folder: string): { kind: string; number: bigint } | null {
  const m = /^(.*?)(\d+)(\D*)$/.exec(folder);
  // Digits only in a parent folder's name: the folder's own name has none.
  if (m === null || m[3]!.includes('/')) return null;
  return { kind: `${m[1]}#${m[3]}`, number: BigInt(m[2]!) };
}

/**
 * True for a folder in progress older than a complete one of its kind (`newestDone`): a trainer
 * that died saving it and resumed from an earlier one has saved past it since, and never finishes
 * it; held back, it would keep every later backup incomplete (and `--resume` on an older one).
 */
function abandoned(folder: string, newestDone: ReadonlyMap<string, bigint>): boolean {
  const n = numbered(folder);
  const done = n === null ? undefined : newestDone.get(n.kind);
  return n !== null && done !== undefined && done > n.number;
}
