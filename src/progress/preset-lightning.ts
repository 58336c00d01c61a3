/**
 * The `lightning` preset: what PyTorch Lightning's `ModelCheckpoint` writes.
 *
 * Files go to `<default_root_dir>/lightning_logs/version_N/checkpoints/` (the first logger's
 * `save_dir/name/version`; `ModelCheckpoint.__resolve_ckpt_dir`), a new `version_N` (one past the
 * highest) for every `Trainer` (`_get_next_version`). `format_checkpoint_name` names them
 * `epoch={epoch}-step={step}.ckpt` (e.g. `epoch=3-step=400.ckpt`); templates such as
 * `{epoch}-{val_loss:.2f}` add `val_loss=0.12` parts, a clash adds `-v1`, and DeepSpeed saves a
 * folder of that name. `save_last=True` adds `last.ckpt` (`CHECKPOINT_NAME_LAST`, `last-v1.ckpt` on
 * a clash), rewritten at every save, while `save_top_k` keeps only the k best by the monitored
 * metric: the names alone can lag far behind (best at epoch 3 while training is at epoch 7).
 *
 * The names' `epoch` is `trainer.current_epoch`, 0-based: the checkpoint saved when the 5th epoch
 * ends says `epoch=4`. ckptd counts finished epochs, read from the checkpoint's own loop counters
 * (`lightning-checkpoint.ts`), which also tell a save inside an epoch (`every_n_train_steps`,
 * `val_check_interval` < 1) from one at its end. A folder's counters are in one file of it: a
 * sharded FSDP folder's `meta.pt`, a DeepSpeed folder's `checkpoint/mp_rank_00_model_states.pt`
 * (`zero_pp_rank_0_mp_rank_00_model_states.pt` with ZeRO stage 3), where Lightning's checkpoint dict
 * follows DeepSpeed's own keys. Without counters (an unreadable file, a folder without that file) the
 * name's epoch + 1, the default epoch-end save.
 */
import { readLightningCheckpoint } from './lightning-checkpoint.js';
import { toCount, toNumber } from './numbers.js';
import { pickFurthest } from './pick-furthest.js';
import type { Reading, RunFile, RunView } from './types.js';

/** `key=number` parts, each starting the name or following `-`, `_` or a space. */
const PART = /(?<=^|[-_ ])([A-Za-z_][\w.]*?)=(-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?=$|[-_ ])/g;
/** Keys taken as the loss, in order of preference. */
const LOSS_KEYS = ['loss', 'train_loss', 'val_loss'];
/** `last.ckpt` and the `last-vN.ckpt` a clash makes (`_save_last_checkpoint`). */
const LAST_NAME = /^last(?:-v\d+)?\.ckpt$/;
/** What a sharded FSDP checkpoint folder holds besides its shards: the checkpoint dict without the tensors. */
const FSDP_METADATA = 'meta.pt';
/**
 * The file of a DeepSpeed checkpoint folder that holds Lightning's checkpoint dict:
 * `DeepSpeedStrategy.save_checkpoint` saves with `tag="checkpoint"`, and DeepSpeed's `_get_ckpt_name`
 * names the model states `mp_rank_00_model_states.pt`, or per data-parallel rank
 * `zero_pp_rank_N_mp_rank_00_model_states.pt` under ZeRO stage 3 (every rank's holds the dict).
 */
const DEEPSPEED_STATES = /^checkpoint\/(?:zero_pp_rank_0_)?mp_rank_00_model_states\.pt$/;
/** A logger's version folder (`version_{version}`). */
const VERSION_DIR = /^version_(\d+)$/;

/**
 * Parses one checkpoint name (a file or folder name, extension and `-vN` suffix allowed) into its
 * `key=value` numbers; a value past a double's range (`loss=1e999`, Infinity) is left out. Null
 * unless it holds `epoch=` or `step=`.
 */
export function parseLightningName(name: string): Record<string, number> | null {
  const stem = name.replace(/\.[A-Za-z][A-Za-z0-9]*$/, '').replace(/-v\d+$/, '');
  const values: Record<string, number> = {};
  for (const m of stem.matchAll(PART)) {
    const value = toNumber(m[2]);
    if (value !== null) values[m[1] as string] = value;
  }
  return 'epoch' in values || 'step' in values ? values : null;
}

/** A checkpoint of the run: a file, or a DeepSpeed folder, named like one or `last.ckpt`. */
interface Checkpoint {
  /** Its path: the file, or the folder named like a checkpoint. */
  path: string;
  /** True for a file, false for a folder. */
  isFile: boolean;
  /** The file holding its counters: the file itself, a folder's `meta.pt` or DeepSpeed model states. */
  counters: string;
  /** The name's `key=value` numbers; null for `last.ckpt`. */
  values: Record<string, number> | null;
  mtimeMs: number;
}

/** A checkpoint with the progress it holds: `epoch` as Lightning names it (0-based). */
interface Candidate {
  checkpoint: Checkpoint;
  epoch: number | null;
  step: number | null;
  finishedEpochs: number | null;
  mtimeMs: number;
}

/**
 * Progress from the checkpoint furthest along (highest step, then epoch, then newest mtime) of the
 * current run: where checkpoints sit under `version_N` folders, only those of the highest N that
 * holds any count (an older run that went further is not this one). `last.ckpt` is read inside
 * (`epoch`, `global_step`); named ones by their names. `epoch` = finished epochs (see the header);
 * `loss` = `loss`, else `train_loss`, else `val_loss` from the name; metrics = every other
 * `key=value` part (`val_loss` included). Null when there is no checkpoint it can read.
 */
export async function readLightning(view: RunView): Promise<Reading | null> {
  const candidates: Candidate[] = [];
  for (const checkpoint of currentRun(listCheckpoints(view.files))) {
    if (checkpoint.values) {
      const { epoch, step } = checkpoint.values;
      candidates.push({ checkpoint, epoch: toCount(epoch), step: toCount(step), finishedEpochs: null, mtimeMs: checkpoint.mtimeMs });
      continue;
    }
    const inside = await readLightningCheckpoint(view, checkpoint.counters);
    if (inside && (inside.epoch !== null || inside.step !== null)) candidates.push({ checkpoint, ...inside, mtimeMs: checkpoint.mtimeMs });
  }
  const best = pickFurthest(candidates);
  if (!best) return null;
  const values = best.checkpoint.values ?? {};
  if (best.checkpoint.values) {
    // The name cannot tell a save inside an epoch from one at its end; the file's counters can.
    const inside = await readLightningCheckpoint(view, best.checkpoint.counters);
    best.finishedEpochs = inside?.finishedEpochs ?? null;
    best.step ??= inside?.step ?? null;
  }
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries(values)) if (k !== 'epoch' && k !== 'step' && k !== 'loss') metrics[k] = v;
  const lossKey = LOSS_KEYS.find((k) => k in values);
  return {
    epoch: best.finishedEpochs ?? (best.epoch === null ? null : best.epoch + 1),
    step: best.step,
    loss: lossKey ? (values[lossKey] ?? null) : null,
    metrics,
    atMs: best.mtimeMs,
  };
}

/**
 * Every checkpoint among the listed files: each path segment named like a Lightning checkpoint or
 * `last.ckpt` / `last-vN.ckpt` (a file, or a DeepSpeed or sharded FSDP folder, listed once with the
 * newest mtime of its files). A folder's counters are its DeepSpeed model states when they are
 * listed, else its `meta.pt` (which a DeepSpeed folder without them lacks: it reads as nothing).
 */
function listCheckpoints(files: readonly RunFile[]): Checkpoint[] {
  const found = new Map<string, Checkpoint>();
  for (const file of files) {
    // A segment can match only with a `=` (a `key=number` part) or `last` in it: a run's other
    // 100,000 files are passed over without splitting their paths (~0.45 s a look before).
    if (!file.path.includes('=') && !file.path.includes('last')) continue;
    const segments = file.path.split('/');
    segments.forEach((segment, i) => {
      const isFile = i === segments.length - 1;
      const values = parseLightningName(segment);
      if (!values && !LAST_NAME.test(segment)) return;
      const at = segments.slice(0, i + 1).join('/');
      const seen = found.get(at) ?? { path: at, isFile, values, counters: isFile ? at : `${at}/${FSDP_METADATA}`, mtimeMs: file.mtimeMs };
      if (seen.mtimeMs < file.mtimeMs) seen.mtimeMs = file.mtimeMs;
      if (!isFile && DEEPSPEED_STATES.test(segments.slice(i + 1).join('/'))) seen.counters = file.path;
      found.set(at, seen);
    });
  }
  return [...found.values()];
}

/**
 * The checkpoints of the current run: one under `<parent>/version_N/` is kept only when no other
 * checkpoint sits under the same parent's `version_M` with M > N. Checkpoints outside any
 * `version_N` folder (a `dirpath` of your own) are all kept.
 */
function currentRun(checkpoints: readonly Checkpoint[]): Checkpoint[] {
  const versionOf = (c: Checkpoint): { parent: string; n: number } | null => {
    const segments = c.path.split('/');
    for (let i = segments.length - 2; i >= 0; i--) {
      const m = VERSION_DIR.exec(segments[i] as string);
      if (m) return { parent: segments.slice(0, i).join('/'), n: Number(m[1]) };
    }
    return null;
  };
  const newest = new Map<string, number>();
  for (const c of checkpoints) {
    const v = versionOf(c);
    if (v && v.n > (newest.get(v.parent) ?? -1)) newest.set(v.parent, v.n);
  }
  return checkpoints.filter((c) => {
    const v = versionOf(c);
    return !v || v.n === newest.get(v.parent);
  });
}
