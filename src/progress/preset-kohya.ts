/**
 * The `kohya` preset: kohya-ss sd-scripts outputs.
 *
 * Models are saved as `<name>-<epoch:06d>.<ext>` (`--save_every_n_epochs`; epochs counted from 1)
 * and `<name>-step<step:08d>.<ext>` (`--save_every_n_steps`), the final one as `<name>.<ext>`;
 * diffusers models are folders of those names. With `--save_state`, `<name>-<epoch:06d>-state/`,
 * `<name>-step<step:08d>-state/` and `<name>-state/` hold `train_state.json`:
 * `{"current_epoch": 5, "current_step": 1000}`.
 */
import path from 'node:path/posix';
import { isPlainObject, toCount } from './numbers.js';
import { readDocument } from './read-document.js';
import type { Reading, RunView } from './types.js';

const EPOCH_NAME = /^.+-(\d{6})(?:-state)?$/;
const STEP_NAME = /^.+-step(\d{8})(?:-state)?$/;
const STATE_FILE = 'train_state.json';

/** What a kohya output name says: `{epoch}` or `{step}`; null when it is neither form. */
export function parseKohyaName(name: string): { epoch: number } | { step: number } | null {
  const m = STEP_NAME.exec(name);
  if (m) return { step: Number(m[1]) };
  const e = EPOCH_NAME.exec(name);
  return e ? { epoch: Number(e[1]) } : null;
}

/**
 * Progress from kohya names at any depth (the last segment without its extension, folders as
 * they are): `epoch` = the highest epoch-form number, `step` = the highest step-form number, each
 * raised by the newest `*-state/train_state.json` when it is further along. `atMs` is the newest
 * mtime among the files that matched. Null when nothing matches.
 */
export async function readKohya(view: RunView): Promise<Reading | null> {
  let epoch: number | null = null;
  let step: number | null = null;
  let atMs = 0;
  let found = false;
  let state: { path: string; mtimeMs: number } | null = null;
  for (const file of view.files) {
    const segments = file.path.split('/');
    const last = segments.length - 1;
    for (let i = 0; i <= last; i++) {
      const segment = segments[i] as string;
      const parsed = parseKohyaName(i === last ? segment.replace(/\.[A-Za-z][A-Za-z0-9]*$/, '') : segment);
      if (!parsed) continue;
      found = true;
      atMs = Math.max(atMs, file.mtimeMs);
      if ('epoch' in parsed) epoch = Math.max(epoch ?? 0, parsed.epoch);
      else step = Math.max(step ?? 0, parsed.step);
    }
    if (path.basename(file.path) === STATE_FILE && path.dirname(file.path).endsWith('-state') && (!state || file.mtimeMs > state.mtimeMs)) {
      state = file;
    }
  }
  if (state) {
    const doc = await readDocument(view, state.path);
    if (isPlainObject(doc)) {
      const e = toCount(doc.current_epoch);
      const s = toCount(doc.current_step);
      if (e !== null || s !== null) {
        found = true;
        atMs = Math.max(atMs, state.mtimeMs);
        if (e !== null) epoch = Math.max(epoch ?? 0, e);
        if (s !== null) step = Math.max(step ?? 0, s);
      }
    }
  }
  return found ? { epoch, step, loss: null, metrics: {}, atMs } : null;
}
