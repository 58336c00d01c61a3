/**
 * Which of the files that match `save.files` a save holds under `save.pick: newest`: the files of
 * the newest model only. Pure: it sees relative paths and mtimes, nothing else.
 *
 * The rule, for the matched files of one save:
 * - **Versions.** Two names in the same folder are versions of one another when they differ only
 *   in their numbers: `lora-000002.safetensors` and `lora-000003.safetensors` (kohya,
 *   `train_util.get_epoch_ckpt_name`), `checkpoint-500` and `checkpoint-1000` (HF,
 *   `Trainer._save_checkpoint`), `epoch=3-step=400.ckpt` and `epoch=4-step=500.ckpt` (Lightning),
 *   OneTrainer's `<time>-save-<step>-<epoch>-<epoch step>` names. The numbers of a shard marker
 *   (`-00001-of-00002`, `_00001_of_00002`), a rank (`zero_pp_rank_1_mp_rank_00_optim_states.pt`)
 *   or a torch.distributed.checkpoint file (`__1_0.distcp`) count parts of one model, not
 *   versions, so the parts of a model stay together (`PART_MARKERS`).
 * - **Models.** A matched file belongs to the model named by the first (top-most) name on its
 *   path that has a version beside it: that file, or that folder with every matched file under it
 *   (a folder is kept whole: `checkpoint-1000/` keeps its shards and `training_args.bin`, a
 *   Lightning `version_1/` keeps every checkpoint in it). Matched files with no such name on their
 *   path (kohya's final `NAME.safetensors`, the model HF's `save_model` writes beside the
 *   checkpoints, files of a run that writes one version) are one more model, together.
 * - **Newest.** The model whose newest file has the latest mtime. A tie goes to the model whose
 *   version name holds the greater numbers (compared one number at a time, from the left), then to
 *   the later name in code-point order, so the choice never depends on the order of the input.
 */

/** A matched file: a relative POSIX path and its mtime in nanoseconds (decimal, as a scan gives it). */
export interface ModelFile {
  path: string;
  mtimeNs: string;
}

/** What `pickNewestModel` chose. */
export interface ModelPick<T extends ModelFile> {
  /** The files of the newest model, in the order given; empty when no file was given. */
  files: T[];
  /** The newest model for people: `checkpoint-1000/`, `lora-000003.safetensors`, or its unnumbered files. */
  model: string | null;
  /** Every other model the same way, newest first. */
  leftOut: string[];
}

interface Model<T> {
  /** The version's path (a folder ends in `/`), or null for the files without a version. */
  key: string | null;
  files: T[];
  newestNs: bigint;
  numbers: bigint[];
}

/** The files of the newest model among `files` (see the rule above). */
export function pickNewestModel<T extends ModelFile>(files: readonly T[]): ModelPick<T> {
  const versioned = versionNames(files.map((f) => f.path));
  const models = new Map<string | null, Model<T>>();
  for (const f of files) {
    const parts = f.path.split('/');
    const d = parts.findIndex((_, i) => versioned.has(parts.slice(0, i + 1).join('/')));
    const key = d < 0 ? null : parts.slice(0, d + 1).join('/') + (d < parts.length - 1 ? '/' : '');
    const model = models.get(key) ?? { key, files: [], newestNs: -1n, numbers: d < 0 ? [] : numbersOf(parts[d]!) };
    model.files.push(f);
    const ns = nanoseconds(f.mtimeNs);
    if (ns > model.newestNs) model.newestNs = ns;
    models.set(key, model);
  }
  const ranked = [...models.values()].sort(newerFirst);
  const [newest, ...rest] = ranked;
  return { files: newest?.files ?? [], model: newest ? nameOf(newest) : null, leftOut: rest.map(nameOf) };
}

/**
 * The paths (`a/b`, a prefix of some file's path) whose last name has a version beside it: another
 * name in the same folder with the same `versionKey` but another `partKey`.
 */
function versionNames(paths: readonly string[]): Set<string> {
  // `folder NUL versionKey` -> the partKeys of the names in that folder with that versionKey
  const partKeys = new Map<string, Set<string>>();
  const prefixes = paths.flatMap((p) => p.split('/').map((name, i, parts) => ({ folder: parts.slice(0, i).join('/'), name })));
  const slot = (folder: string, name: string): string => `${folder}\u0000${versionKey(name)}`;
  for (const { folder, name } of prefixes) {
    const keys = partKeys.get(slot(folder, name)) ?? new Set<string>();
    keys.add(partKey(name));
    partKeys.set(slot(folder, name), keys);
  }
  const out = new Set<string>();
  for (const { folder, name } of prefixes) {
    if ((partKeys.get(slot(folder, name))?.size ?? 0) >= 2) out.add(folder === '' ? name : `${folder}/${name}`);
  }
  return out;
}

/**
 * Part markers, numbers that count the parts one save writes: a shard (`00001-of-00002`, HF
 * `model-00001-of-00002.safetensors`, also with `_`); a process rank as DeepSpeed names it
 * (`zero_pp_rank_1_mp_rank_00_optim_states.pt`, `mp_rank_01_model_states.pt`); a
 * torch.distributed.checkpoint file (`__1_0.distcp`, `__{rank}_{n}`, sharded FSDP). Only
 * DeepSpeed's `pp_rank_N`/`mp_rank_N`: a rank elsewhere in a name is a setting (kohya
 * `--output_name lora_rank8` and `lora_rank16` are two models, and their `-000001` epochs two
 * versions), and a custom `rank0.pt` per process stays a version (README: `pick: all`).
 */
const PART_MARKERS: readonly [RegExp, string][] = [
  [/\d+[-_]of[-_]\d+/gi, '\u0000of\u0000'],
  [/(pp|mp)_rank_\d+/gi, '$1_rank_\u0000'],
  [/^__\d+_\d+(?=\.distcp$)/i, '__\u0000_\u0000'],
];

/** The name with its part markers made neutral: names equal here are one model's parts. */
function partKey(name: string): string {
  return PART_MARKERS.reduce((key, [marker, neutral]) => key.replace(marker, neutral), name);
}

/** The name with every number made neutral: names equal here (and not in `partKey`) are versions. */
function versionKey(name: string): string {
  return partKey(name).replace(/\d+/g, '#');
}

/** The numbers of a version name, left to right, without those of its part markers. */
function numbersOf(name: string): bigint[] {
  return (partKey(name).match(/\d+/g) ?? []).map((n) => BigInt(n));
}

function nanoseconds(mtimeNs: string): bigint {
  return /^\d+$/.test(mtimeNs) ? BigInt(mtimeNs) : 0n;
}

function newerFirst<T>(a: Model<T>, b: Model<T>): number {
  if (a.newestNs !== b.newestNs) return a.newestNs > b.newestNs ? -1 : 1;
  for (let i = 0; i < Math.max(a.numbers.length, b.numbers.length); i++) {
    const x = a.numbers[i];
    const y = b.numbers[i];
    if (x === undefined || y === undefined) return x === undefined ? 1 : -1;
    if (x !== y) return x > y ? -1 : 1;
  }
  const [ka, kb] = [a.key ?? '', b.key ?? ''];
  return ka === kb ? 0 : ka > kb ? -1 : 1;
}

/** `checkpoint-1000/`, `lora-000003.safetensors`; the unnumbered model by its files (three at most). */
function nameOf<T extends ModelFile>(m: Model<T>): string {
  if (m.key !== null) return m.key;
  const names = m.files.map((f) => f.path);
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}
