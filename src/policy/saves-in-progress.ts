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
  /**
   * When set, a folder is this trainer's only if it holds a file whose path inside the folder
   * matches (one the trainer writes first): other trainers' folders of the same name are not judged.
   */
  holds?: RegExp;
  /**
   * How a later save of a kind is told from an earlier one: by the last number in the folder's name
   * (the default: `checkpoint-N`), or by every number in it, in order (OneTrainer's timestamp,
   * Lightning's `epoch=E-step=S`).
   */
  sequence?: 'last number' | 'every number';
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
 * OneTrainer's backups, `<workspace>/backup/<YYYY-MM-DD_HH-MM-SS>-backup-<step>-<epoch>-<epoch step>/`
 * (`GenericTrainer.__backup`): the model saver writes the model (and embeddings), then
 * `optimizer/optimizer.pt`, `ema/ema.pt` and `meta.json` last (`InternalModelSaverMixin`); after
 * it come only the copies of the config (`onetrainer_config/`). A resume takes the newest backup by
 * name, needs its `meta.json` and silently goes without a missing optimizer.
 */
export const ONETRAINER_BACKUP: FolderSave = {
  folder: /^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}-backup-\d+-\d+-\d+$/,
  marker: '-backup-',
  lastFile: 'meta.json',
  sequence: 'every number',
  writer: "OneTrainer's model saver",
};

/** Lightning's `ModelCheckpoint` folders: `epoch=3-step=400.ckpt/`, in the order of their numbers. */
const LIGHTNING_CKPT = { folder: /\.ckpt$/, marker: '.ckpt/', sequence: 'every number' } as const;

/**
 * Lightning's DeepSpeed strategy: a `*.ckpt/` folder DeepSpeed's `save_checkpoint` fills with the
 * `checkpoint/` tag folder (model states, then each rank's ZeRO optimizer states), then
 * `zero_to_fp32.py`, then (rank 0, once its own are written) `latest` naming the tag; a resume
 * without `latest` fails.
 */
export const LIGHTNING_DEEPSPEED: FolderSave = { ...LIGHTNING_CKPT, lastFile: 'latest', holds: /^checkpoint\//, writer: 'DeepSpeed save_checkpoint (Lightning)' };

/**
 * Lightning's FSDP strategy with sharded state: a `*.ckpt/` folder `torch.distributed.checkpoint`
 * fills with each rank's `__<rank>_<n>.distcp` and then `.metadata`, after which rank 0 writes
 * `meta.pt` (the file Lightning tells a sharded checkpoint by).
 */
export const LIGHTNING_FSDP: FolderSave = { ...LIGHTNING_CKPT, lastFile: 'meta.pt', holds: /^__\d+_\d+\.distcp$/, writer: 'Lightning FSDP save_checkpoint' };

/**
 * Which folders to judge: `all` every folder of the layout; `evident` only once the run shows the
 * layout (some such folder holds its last file), so that other trainers' folders of that name are
 * never held back.
 */
export type InProgressRule = 'all' | 'evident';

/**
 * The folders of `save` (relative POSIX paths, at any depth; a file's innermost such folder counts,
 * so DeepSpeed's `checkpoint-N/global_stepN/...` belongs to `checkpoint-N`) that hold files but
 * not their last file, sorted. With `save.holds`, only folders holding such a file count.
 */
export function foldersInProgress(files: readonly string[], save: FolderSave, rule: InProgressRule): string[] {
  const complete = new Map<string, boolean>();
  const ours = new Set<string>();
  for (const file of files) {
    if (!file.includes(save.marker)) continue;
    const parts = file.split('/');
    for (let i = parts.length - 2; i >= 0; i--) {
      if (!save.folder.test(parts[i]!)) continue;
      const folder = parts.slice(0, i + 1).join('/');
      const inside = parts.slice(i + 1).join('/');
      complete.set(folder, (complete.get(folder) ?? false) || inside === save.lastFile);
      if (save.holds === undefined || save.holds.test(inside)) ours.add(folder);
      break;
    }
  }
  for (const folder of complete.keys()) if (!ours.has(folder)) complete.delete(folder);
  if (rule === 'evident' && ![...complete.values()].includes(true)) return [];
  // The newest complete folder of each kind: one older than it the trainer will never finish.
  const newestDone = new Map<string, bigint[]>();
  for (const [folder, done] of complete) {
    const n = numbered(folder, save);
    if (!done || n === null) continue;
    const seen = newestDone.get(n.kind);
    if (seen === undefined || later(n.numbers, seen)) newestDone.set(n.kind, n.numbers);
  }
  return [...complete]
    .filter(([folder, done]) => !done && !abandoned(folder, save, newestDone))
    .map(([folder]) => folder)
    .sort();
}

/**
 * A folder's kind and its numbers; null without digits in its own name. By `last number`: its
 * parent and its name with the last run of digits masked (`a/checkpoint-#`, `lora-#-state`,
 * `lora-step#-state`), and that number. By `every number`: its parent and its name with every run
 * masked (`backup/####-##-##_##-##-##-backup-#-#-#`, `epoch=#-step=#.ckpt`), and those numbers.
 */
function numbered(folder: string, save: FolderSave): { kind: string; numbers: bigint[] } | null {
  if (save.sequence === 'every number') {
    const slash = folder.lastIndexOf('/') + 1;
    const name = folder.slice(slash);
    const numbers = (name.match(/\d+/g) ?? []).map((d) => BigInt(d));
    return numbers.length === 0 ? null : { kind: folder.slice(0, slash) + name.replace(/\d+/g, '#'), numbers };
  }
  const m = /^(.*?)(\d+)(\D*)$/.exec(folder);
  // Digits only in a parent folder's name: the folder's own name has none.
  if (m === null || m[3]!.includes('/')) return null;
  return { kind: `${m[1]}#${m[3]}`, numbers: [BigInt(m[2]!)] };
}

/** True when `a` comes after `b`, number by number (both of one kind, so of one length). */
function later(a: readonly bigint[], b: readonly bigint[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return false;
}

/**
 * True for a folder in progress older than a complete one of its kind (`newestDone`): a trainer
 * that died saving it and resumed from an earlier one has saved past it since, and never finishes
 * it; held back, it would keep every later backup incomplete (and `--resume` on an older one).
 */
function abandoned(folder: string, save: FolderSave, newestDone: ReadonlyMap<string, bigint[]>): boolean {
  const n = numbered(folder, save);
  const done = n === null ? undefined : newestDone.get(n.kind);
  return n !== null && done !== undefined && later(done, n.numbers);
}
