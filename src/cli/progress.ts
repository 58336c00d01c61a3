/**
 * `ckptd progress`: a custom training script reports its progress, which ckptd keeps in
 * `<run>/.ckptd-progress.json` (read by every progress source; see `src/progress/merge-readings.ts` for how
 * it combines with a trainer preset).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import {
  applyProgressUpdate,
  CKPTD_PROGRESS_FILE,
  parseCkptdProgress,
  renderCkptdProgress,
  type ProgressUpdate,
} from '../progress/ckptd-progress-file.js';
import { writeFileAtomic } from '../store/durable.js';
import { UsageError } from '../util/errors.js';

/** The longest metric name `--metric` takes (as a snapshot's name). */
const MAX_METRIC_KEY = 200;

/**
 * Parses `--metric` arguments (`["acc=0.93", "lr=1e-4"]`) into `{acc: 0.93, lr: 0.0001}`; a later
 * key replaces an earlier one. Throws a `UsageError` (exit 2) naming the argument when one has no
 * `=`, an empty key, a key with control characters or over 200 characters, the key `__proto__`, or
 * a value that is not a finite number.
 */
export function parseMetricArgs(args: readonly string[]): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq < 0) throw new UsageError(`--metric ${JSON.stringify(arg)}: expected KEY=VALUE, e.g. --metric acc=0.93`);
    const key = arg.slice(0, eq).trim();
    const raw = arg.slice(eq + 1).trim();
    if (key === '') throw new UsageError(`--metric ${JSON.stringify(arg)}: the key before "=" is empty`);
    // `status` and `show` print metric names as they are.
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f-\u009f]/.test(key)) throw new UsageError(`--metric ${JSON.stringify(arg)}: the key holds control characters; remove them`);
    if (key.length > MAX_METRIC_KEY) throw new UsageError(`--metric: the key is ${key.length} characters long; the limit is ${MAX_METRIC_KEY}`);
    // Assigning "__proto__" sets an object's prototype instead of a key: the value would vanish.
    if (key === '__proto__') throw new UsageError(`--metric ${JSON.stringify(arg)}: "__proto__" cannot be a metric name (JavaScript objects reserve it); choose another name`);
    const value = raw === '' ? NaN : Number(raw);
    if (!Number.isFinite(value)) throw new UsageError(`--metric ${JSON.stringify(arg)}: ${JSON.stringify(raw)} is not a finite number`);
    metrics[key] = value;
  }
  return metrics;
}

/**
 * Checks what `ckptd progress` is about to record: `epoch` and `step` must be finite and not
 * negative, `loss` and every metric finite. Throws a `UsageError` (exit 2) naming the bad value.
 */
export function validateProgressUpdate(values: ProgressUpdate): void {
  for (const key of ['epoch', 'step'] as const) {
    const v = values[key];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new UsageError(`--${key} must be a finite number of at least 0, got ${v}`);
  }
  if (values.loss !== undefined && !Number.isFinite(values.loss)) throw new UsageError(`--loss must be a finite number, got ${values.loss}`);
  for (const [k, v] of Object.entries(values.metrics ?? {})) {
    if (!Number.isFinite(v)) throw new UsageError(`--metric ${k} must be a finite number, got ${v}`);
  }
}

/**
 * Merges `values` into `<runDir>/.ckptd-progress.json` (given keys replace, missing keys keep their
 * value, metrics merge key by key, `updated` = `now` as ISO 8601 UTC) and returns the file's path.
 * The write is atomic (a temp file in the same folder, fsync, rename, fsync of the folder), so the
 * daemon never reads half a file; a malformed existing file is replaced. Throws a `UsageError` for
 * invalid values (see `validateProgressUpdate`), an error saying so when `runDir` does not exist
 * yet, and the file system's error (with the path) when it is not writable.
 */
export async function writeProgressFile(
  runDir: string,
  values: { epoch?: number; step?: number; loss?: number; metrics?: Record<string, number> },
  now: number,
): Promise<string> {
  validateProgressUpdate(values);
  // A script reporting before its trainer made the folder: say so, not ENOENT on a temp file's name.
  const dir = await fsp.stat(runDir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : Promise.reject(err)));
  if (dir === null) throw new Error(`the run folder ${runDir} does not exist yet; report progress once the trainer has created it (nothing was written)`);
  const file = path.join(runDir, CKPTD_PROGRESS_FILE);
  const previous = await fsp.readFile(file, 'utf8').then(parseCkptdProgress, () => null);
  await writeFileAtomic(file, renderCkptdProgress(applyProgressUpdate(previous, values, now)));
  return file;
}
