/**
 * The saves of a kohya-ss sd-scripts `--output_dir`, found in a run's file listing.
 *
 * `library/train_util.py` names them from `--output_name` (unset: `epoch`, `at`, `last`):
 * - `get_epoch_ckpt_name` `NAME-000005.safetensors` (epochs counted from 1, the finished epoch;
 *   the last epoch is never saved this way), `get_step_ckpt_name` `NAME-step00001000.safetensors`,
 *   `get_last_ckpt_name` `NAME.safetensors` (the final model); `.ckpt` / `.pt` with
 *   `--save_model_as`, and folders of those names for diffusers models;
 * - with `--save_state`: `save_and_remove_state_on_epoch_end` `NAME-000005-state/`,
 *   `save_and_remove_state_stepwise` `NAME-step00001000-state/`, `save_state_on_train_end`
 *   `NAME-state/` (also with `--save_state_on_train_end`).
 */

/** What a kohya name is: a model or state after an epoch or a step, the last state, or the final model. */
export type KohyaKind = 'epoch' | 'step' | 'epoch-state' | 'step-state' | 'last-state' | 'final';

/** A kohya name taken apart: its output name, its kind and its number (null for the last state). */
export interface KohyaName {
  name: string;
  kind: Exclude<KohyaKind, 'final'>;
  n: number | null;
}

/** One save: a model file or a folder (diffusers model, state), with the newest mtime in it. */
export interface KohyaSave {
  /** Relative path of the file or folder. */
  path: string;
  /** Output directory + output name family: saves with one key are one output name's. */
  key: string;
  kind: KohyaKind;
  /** The finished epochs the name says (epoch saves), else null. */
  epoch: number | null;
  /** The global step the name says (step saves), else null. */
  step: number | null;
  mtimeMs: number;
}

const STEP_NAME = /^(.+)-step(\d{8})(-state)?$/;
const EPOCH_NAME = /^(.+)-(\d{6})(-state)?$/;
const LAST_STATE_NAME = /^(.+)-state$/;
/** `--save_model_as` ckpt, pt, safetensors (diffusers models are folders). */
const MODEL_FILE = /\.(?:safetensors|ckpt|pt)$/;
/** sd-scripts' names when `--output_name` is unset: `DEFAULT_EPOCH_NAME`, `DEFAULT_STEP_NAME`, `DEFAULT_LAST_OUTPUT_NAME`. */
const DEFAULT_NAMES = new Set(['epoch', 'at', 'last']);

/** A save's name (a model file without its extension, or a folder) taken apart; null when it is no kohya name. */
export function parseKohyaName(base: string): KohyaName | null {
  const s = STEP_NAME.exec(base);
  if (s) return { name: s[1] as string, kind: s[3] ? 'step-state' : 'step', n: Number(s[2]) };
  const e = EPOCH_NAME.exec(base);
  if (e) return { name: e[1] as string, kind: e[3] ? 'epoch-state' : 'epoch', n: Number(e[2]) };
  const l = LAST_STATE_NAME.exec(base);
  return l ? { name: l[1] as string, kind: 'last-state', n: null } : null;
}

/**
 * Every save in `files`, at any depth: folders by their name, files by their name without a
 * model extension. The final model `NAME.<ext>` (or `NAME/`) counts only beside numbered saves or
 * a last state of the same name, since any model file could have a plain name.
 */
export function listKohyaSaves(files: readonly { path: string; mtimeMs: number }[]): KohyaSave[] {
  const saves = new Map<string, KohyaSave>();
  const add = (save: Omit<KohyaSave, 'mtimeMs'>, mtimeMs: number): void => {
    const seen = saves.get(save.path);
    if (seen) seen.mtimeMs = Math.max(seen.mtimeMs, mtimeMs);
    else saves.set(save.path, { ...save, mtimeMs });
  };
  const finals = new Map<string, string>();
  // Every kohya name holds a `-` (`-step`, `-NNNNNN`, `-state`): paths without one have no save.
  const named = files.filter((f) => f.path.includes('-'));
  eachSegment(named, (dir, base, rel, mtimeMs) => {
    const parsed = parseKohyaName(base);
    if (!parsed) return;
    const key = keyOf(dir, parsed.name);
    const epoch = parsed.kind === 'epoch' || parsed.kind === 'epoch-state' ? parsed.n : null;
    const step = parsed.kind === 'step' || parsed.kind === 'step-state' ? parsed.n : null;
    add({ path: rel, key, kind: parsed.kind, epoch, step }, mtimeMs);
    finals.set(join(dir, DEFAULT_NAMES.has(parsed.name) ? 'last' : parsed.name), key);
  });
  // Only a final model beside a save found above counts: without any, no segment is looked up.
  if (finals.size > 0) {
    eachSegment(files, (_dir, _base, rel, mtimeMs) => {
      const key = finals.get(rel);
      if (key !== undefined) add({ path: rel, key, kind: 'final', epoch: null, step: null }, mtimeMs);
    });
  }
  return [...saves.values()];
}

/** Calls `fn` for each folder segment and for the last segment when it is a model file (extension dropped). */
function eachSegment(
  files: readonly { path: string; mtimeMs: number }[],
  fn: (dir: string, base: string, rel: string, mtimeMs: number) => void,
): void {
  for (const file of files) {
    const segments = file.path.split('/');
    const last = segments.length - 1;
    segments.forEach((segment, i) => {
      if (i === last && !MODEL_FILE.test(segment)) return;
      const base = i === last ? segment.replace(MODEL_FILE, '') : segment;
      const dir = segments.slice(0, i).join('/');
      fn(dir, base, join(dir, base), file.mtimeMs);
    });
  }
}

/** Saves of one folder and output name share a key; sd-scripts' default names are one output name. */
function keyOf(dir: string, name: string): string {
  return `${dir}\u0000${DEFAULT_NAMES.has(name) ? '' : name}`;
}

function join(dir: string, base: string): string {
  return dir === '' ? base : `${dir}/${base}`;
}
