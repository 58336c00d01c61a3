/**
 * The backup and save policies' own keys. Contract: `every` becomes a parsed schedule plus the text
 * it was written as (left out: the default; null or false: never), and a schedule in epochs or
 * steps is checked against the progress source (`everyNeedsProgress`; not when the source is null,
 * i.e. already reported as wrong); `cron` must be a five- or
 * six-field cron expression (empty means none); `save.prefix` must be usable in a file name. Each
 * bad value is reported at its key and replaced by a harmless fallback (never, the value as given).
 */
import cron from 'node-cron';
import type { Every } from '../policy/types.js';
import { everyNeedsProgress } from './config-rules.js';
import { valueOr, type Report } from './problems.js';
import type { ProgressSpec } from './types.js';
import { parseEvery } from './units.js';
import type { KeyPath } from './yaml-positions.js';

/** An `every` value (or, left out, `fallback`) parsed, checked against the progress source (null: skip that check). */
export function normalizeEvery(value: unknown, fallback: string, progress: ProgressSpec | null, at: KeyPath, report: Report): { every: Every; everyText: string } {
  const everyText = textOfEvery(value, fallback);
  const every = valueOr(parseEvery(value === undefined ? fallback : value), at, report, { unit: 'never' } as Every);
  if (progress !== null) everyNeedsProgress(every, progress, at, report);
  return { every, everyText };
}

/** A cron expression, or null when none is given. */
export function normalizeCron(expr: string | null, at: KeyPath, report: Report): string | null {
  if (expr === null || expr.trim() === '') return null;
  if (!cron.validate(expr)) report(at, `"${expr}" is not a cron schedule; write five or six fields, e.g. "0 */2 * * *" (every two hours)`);
  return expr;
}

/**
 * The bytes a save's file name (`<prefix><run>-e<epoch>-s<step>-<id>.<ext>`) may spend on prefix and
 * run name: a file system's 255-byte names less room for the rest (epoch and step of up to 21
 * characters each, as `formatNumber` prints any number below 1e21; the id; an extension of up to 19
 * bytes).
 */
export const SAVE_NAME_ROOM = 255 - 90;

/**
 * The prefix of save file names: no path separator or NUL, not `.` or `..`, and short enough, with
 * the run's name `run`, to leave a save's file name within 255 bytes (`SAVE_NAME_ROOM`).
 */
export function normalizeSavePrefix(prefix: string, run: string, at: KeyPath, report: Report): string {
  if (/[/\\\0]/.test(prefix) || prefix === '.' || prefix === '..') {
    report(at, `"${prefix}" cannot hold "/", "\\" or NUL; it is prepended to a file name`);
  }
  const bytes = Buffer.byteLength(prefix + run);
  if (prefix !== '' && bytes > SAVE_NAME_ROOM) {
    report(at, `with the run's name it makes ${bytes} bytes of every save's file name (<prefix><run>-e<epoch>-s<step>-<id>.<ext>), past the file system's 255-byte names; keep prefix and run name to ${SAVE_NAME_ROOM} bytes together`);
  }
  return prefix;
}

function textOfEvery(value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (value === null || value === false) return 'never';
  return String(value).trim();
}
