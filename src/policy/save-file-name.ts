/**
 * The file name of a save: `<prefix><run>-e<epoch>-s<step>-<id>.<ext>` (SPEC section 5). Pure.
 */
import { formatNumber } from './format.js';

/**
 * Builds a save's file name. Unknown (null or non-finite) epoch/step parts are left out, fractional
 * epochs print as `2.5`, `ext` may be given with or without its dot (empty = no extension).
 * The result is always one safe file name: `/`, `\`, NUL and other control characters in any part
 * become `_` (the `-` joints mean the whole can never be `.` or `..`).
 */
export function saveFileName(opts: { prefix: string; run: string; epoch: number | null; step: number | null; id: string; ext: string }): string {
  const parts = [safe(opts.prefix) + safe(opts.run)];
  if (opts.epoch !== null && Number.isFinite(opts.epoch)) parts.push(`e${formatNumber(opts.epoch)}`);
  if (opts.step !== null && Number.isFinite(opts.step)) parts.push(`s${formatNumber(opts.step)}`);
  parts.push(safe(opts.id));
  const ext = safe(opts.ext.replace(/^\.+/, ''));
  return parts.join('-') + (ext ? `.${ext}` : '');
}

function safe(text: string): string {
  return text.replace(/[/\\\u0000-\u001f\u007f]/g, '_');
}

/**
 * Extensions of two parts that a loader goes by whole: Keras 3 loads a name ending in
 * `.weights.h5` as its own weights format and a bare `.h5` as a legacy Keras 2 file
 * (`saving_api.load_weights`), which a Keras 3 weights file is not.
 */
const WHOLE_EXTENSIONS: readonly string[] = ['.weights.h5'];

/**
 * The extension a save of the model file `name` (a path or a file name) keeps: a two-part one of
 * `WHOLE_EXTENSIONS` whole (`latest.weights.h5` -> `.weights.h5`), else what follows the last dot
 * of the file name, dot included, as `path.extname` gives it (`''` for none or a leading dot only).
 */
export function saveExtensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const whole = WHOLE_EXTENSIONS.find((e) => base.length > e.length && base.toLowerCase().endsWith(e));
  if (whole !== undefined) return base.slice(base.length - whole.length);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot) : '';
}
