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
