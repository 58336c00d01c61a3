/** The trainer presets by name, and the order `auto` tries them in. */
import type { ProgressSpec } from '../config/types.js';
import { readDfl } from './preset-dfl.js';
import { readHf } from './preset-hf.js';
import { readKeras } from './preset-keras.js';
import { readKohya } from './preset-kohya.js';
import { readLightning } from './preset-lightning.js';
import { readOneTrainer } from './preset-onetrainer.js';
import type { Source } from './types.js';

/** A trainer preset's name, as written in `progress:`. */
export type PresetName = Extract<ProgressSpec, { kind: 'preset' }>['preset'];

/** Each preset's source. */
export const PRESETS: Readonly<Record<PresetName, Source>> = {
  hf: readHf,
  lightning: readLightning,
  keras: readKeras,
  onetrainer: readOneTrainer,
  kohya: readKohya,
  dfl: readDfl,
};

/**
 * The order `auto` tries the presets in (SPEC section 4); the first that finds anything is used.
 * `hf` goes first because its `trainer_state.json` is the most exact source any trainer writes;
 * `dfl` last, the newest: a folder an earlier preset reads is read as before.
 */
export const AUTO_ORDER: readonly PresetName[] = ['hf', 'lightning', 'keras', 'onetrainer', 'kohya', 'dfl'];
