/**
 * `save.pick`: whether a save holds every file that matches `save.files` (`all`) or the newest
 * model among them (`newest`, see `pick-newest-model.ts`). Pure.
 *
 * `auto`, the default, is `newest` for the trainers that keep many versions of the model side by
 * side in the folder ckptd watches (`MANY_VERSION_TRAINERS`: HF's `checkpoint-N/`, kohya's
 * `NAME-00000N.safetensors`, Lightning's `epoch=E-step=S.ckpt`, OneTrainer's `save/` and
 * `backup/`), and `all` otherwise: a custom script's matched files may be the parts of one model
 * (numbered per process, for example), and a save must never drop a part it cannot tell from a
 * version. Under `progress: auto` the trainer is the one auto found at the save (the save's
 * progress `source`): until auto finds one of them, and for the other sources, a save holds all.
 */

/** What a save holds, decided: every matching file, or the newest model's. */
export type SavePick = 'newest' | 'all';

/** `save.pick` as configured. */
export type SavePickSetting = SavePick | 'auto';

/** The `progress` presets whose trainers write many versions of the model; `auto` means `newest` for them. */
export const MANY_VERSION_TRAINERS: readonly string[] = ['hf', 'kohya', 'lightning', 'onetrainer'];

/**
 * What a save holds under `setting`. `progress` is the run's progress spec (its kind and, for a
 * preset, its name); `source` what found the save's progress (`Progress.source`: `kohya`,
 * `kohya+ckptd-progress`, `file`, or null).
 */
export function savePickFor(setting: SavePickSetting, progress: { kind: string; preset?: string }, source: string | null): SavePick {
  if (setting !== 'auto') return setting;
  const trainer = progress.kind === 'preset' ? progress.preset : progress.kind === 'auto' ? source?.split('+')[0] : undefined;
  return trainer !== undefined && MANY_VERSION_TRAINERS.includes(trainer) ? 'newest' : 'all';
}
