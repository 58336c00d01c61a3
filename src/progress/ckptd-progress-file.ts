/**
 * `.ckptd-progress.json`: progress reported by `ckptd progress` from a custom training script.
 * It lives in the run folder, is never part of a snapshot, and is read by every progress source.
 *
 * Format (every key optional):
 * `{"epoch": 3, "step": 1200, "loss": 0.41, "metrics": {"acc": 0.93}, "updated": "2025-01-02T03:04:05.000Z"}`
 */
import { parseJson } from './parse-document.js';
import { isPlainObject, numericEntries, toCount, toNumber } from './numbers.js';
import type { Reading, RunView } from './types.js';

/** The file's name, relative to the run folder. */
export const CKPTD_PROGRESS_FILE = '.ckptd-progress.json';

/** The `source` name of values that came from `.ckptd-progress.json`. */
export const CKPTD_PROGRESS_SOURCE = 'ckptd-progress';

/** The content of `.ckptd-progress.json`. */
export interface CkptdProgressDoc {
  epoch: number | null;
  step: number | null;
  loss: number | null;
  metrics: Record<string, number>;
  /** ISO 8601 UTC time of the last `ckptd progress`, or null when unknown. */
  updated: string | null;
}

/** What `ckptd progress` reports; keys left out keep their previous value. */
export interface ProgressUpdate {
  epoch?: number;
  step?: number;
  loss?: number;
  metrics?: Record<string, number>;
}

/**
 * Parses the file's text. Values that are not numbers (or numeric strings) read as null, negative
 * epochs and steps too; non-numeric metrics are dropped. Null when the text is not a JSON object.
 */
export function parseCkptdProgress(text: string): CkptdProgressDoc | null {
  const doc = parseJson(text);
  if (!isPlainObject(doc)) return null;
  return {
    epoch: toCount(doc.epoch),
    step: toCount(doc.step),
    loss: toNumber(doc.loss),
    metrics: numericEntries(doc.metrics),
    updated: typeof doc.updated === 'string' ? doc.updated : null,
  };
}

/**
 * The document after applying `update` at `now` (ms): given keys replace, missing keys keep the
 * previous value, metrics merge key by key; `updated` becomes `now` as ISO 8601 UTC.
 */
export function applyProgressUpdate(previous: CkptdProgressDoc | null, update: ProgressUpdate, now: number): CkptdProgressDoc {
  return {
    epoch: update.epoch ?? previous?.epoch ?? null,
    step: update.step ?? previous?.step ?? null,
    loss: update.loss ?? previous?.loss ?? null,
    metrics: { ...(previous?.metrics ?? {}), ...(update.metrics ?? {}) },
    updated: new Date(now).toISOString(),
  };
}

/** The file's text for `doc` (pretty JSON, newline-terminated). */
export function renderCkptdProgress(doc: CkptdProgressDoc): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Reads `.ckptd-progress.json` through `view` (directly by path: the listing never holds it).
 * `atMs` is the file's mtime. Null when the file is missing, malformed, or holds no value at all.
 */
export async function readCkptdProgress(view: RunView): Promise<Reading | null> {
  const text = await view.read(CKPTD_PROGRESS_FILE);
  if (text === null) return null;
  const doc = parseCkptdProgress(text);
  if (!doc) return null;
  if (doc.epoch === null && doc.step === null && doc.loss === null && Object.keys(doc.metrics).length === 0) return null;
  // The mtime is what merges compare; `updated` only stands in if the file vanished meanwhile.
  const atMs = (await view.mtimeMs(CKPTD_PROGRESS_FILE)) ?? (Date.parse(doc.updated ?? '') || 0);
  return { epoch: doc.epoch, step: doc.step, loss: doc.loss, metrics: doc.metrics, atMs };
}
