/**
 * The `progress` key: where a run's epoch, step and loss come from. Contract: `auto`, `none`/null,
 * a preset name, `{file, epoch, step, loss, metrics}` (a JSON or YAML file inside the run, key
 * paths into it; `metrics` names more values by key path) or `{filename: REGEX}` (named groups
 * epoch, step, loss) becomes a `ProgressSpec`; anything else is reported, each wrong part at its
 * own key, and normalizes to `{ kind: 'none' }` so the rest of the config is still checked. An `init --preset` name that is not a progress source
 * (`generic`) gets its own message saying what to write instead.
 */
import path from 'node:path';
import { parseKeyPath } from '../policy/key-path.js';
import { didYouMean } from './near-key.js';
import { INIT_PRESETS } from './presets.js';
import type { Report } from './problems.js';
import type { ProgressSpec } from './types.js';
import type { KeyPath } from './yaml-positions.js';

const PRESET_NAMES = ['hf', 'lightning', 'keras', 'onetrainer', 'kohya', 'dfl'] as const;
/** The keys of a `{file, ...}` source (a mistyped one gets a "did you mean"). */
const FILE_SOURCE_KEYS: readonly string[] = ['file', 'epoch', 'step', 'loss', 'metrics'];

/** The progress spec the value names, or `none` after reporting what is wrong with it. */
export function normalizeProgress(value: unknown, at: KeyPath, report: Report): ProgressSpec {
  const choices = `auto, none, ${PRESET_NAMES.join(', ')}, {file, epoch, step, loss} or {filename: REGEX}`;
  if (value === null || value === 'none') return { kind: 'none' };
  if (value === 'auto') return { kind: 'auto' };
  if (typeof value === 'string') {
    if ((PRESET_NAMES as readonly string[]).includes(value)) return { kind: 'preset', preset: value as (typeof PRESET_NAMES)[number] };
    if ((INIT_PRESETS as readonly string[]).includes(value)) {
      report(
        at,
        `"${value}" is a preset of \`ckptd init --preset\`, not a progress source; write progress: auto (tries each trainer preset), a trainer preset (${PRESET_NAMES.join(', ')}), {file, epoch, step, loss} or {filename: REGEX}`,
      );
      return { kind: 'none' };
    }
    report(at, `"${value}" is not a progress source; use ${choices}`);
    return { kind: 'none' };
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    report(at, `must be one of ${choices}`);
    return { kind: 'none' };
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if ('filename' in obj) {
    for (const k of keys) if (k !== 'filename') report([...at, k], `unknown key "${k}" next to "filename"; a filename source takes only the regex`);
    const pattern = obj.filename;
    if (typeof pattern !== 'string') {
      report([...at, 'filename'], 'must be a regular expression with named groups epoch, step or loss, e.g. "e(?<epoch>\\d+)"');
      return { kind: 'none' };
    }
    let re: RegExp;
    try {
      re = new RegExp(pattern);
    } catch (err) {
      report([...at, 'filename'], `not a valid regular expression: ${(err as Error).message}`);
      return { kind: 'none' };
    }
    const groups = namedGroups(re);
    if (!groups.some((g) => g === 'epoch' || g === 'step' || g === 'loss')) {
      report([...at, 'filename'], 'the regex needs at least one named group: (?<epoch>...), (?<step>...) or (?<loss>...)');
    }
    return { kind: 'filename', pattern };
  }
  if ('file' in obj) return normalizeFileSource(obj, at, report);
  report(at, `must be one of ${choices}`);
  return { kind: 'none' };
}

/** The `{file, epoch, step, loss, metrics}` source, each wrong part reported at its own key. */
function normalizeFileSource(obj: Record<string, unknown>, at: KeyPath, report: Report): ProgressSpec {
  const unknown = Object.keys(obj).filter((k) => !FILE_SOURCE_KEYS.includes(k));
  for (const k of unknown) report([...at, k], `unknown key "${k}"${didYouMean(k, FILE_SOURCE_KEYS)}; a file source takes file, epoch, step, loss and metrics`);
  if (typeof obj.file !== 'string' || obj.file.trim() === '') {
    report([...at, 'file'], 'must name a JSON or YAML file inside the run folder, e.g. state.json');
    return { kind: 'none' };
  }
  if (path.isAbsolute(obj.file) || obj.file.split(/[/\\]/).includes('..')) {
    report([...at, 'file'], `"${obj.file}" must be a path inside the run folder (relative, without "..")`);
  }
  const keyPath = (k: 'epoch' | 'step' | 'loss'): string | null => checkKeyPath(obj[k], k, [...at, k], report);
  let metricProblems = 0;
  const spec = {
    kind: 'file' as const,
    file: obj.file,
    epoch: keyPath('epoch'),
    step: keyPath('step'),
    loss: keyPath('loss'),
    metrics: fileMetrics(obj.metrics, [...at, 'metrics'], (k, m) => {
      metricProblems++;
      report(k, m);
    }),
  };
  // Metrics or keys reported as wrong (`epok`) are not blamed a second time for leaving the source empty.
  if (spec.epoch === null && spec.step === null && spec.loss === null && Object.keys(spec.metrics).length === 0 && metricProblems === 0 && unknown.length === 0) {
    report(at, 'a file source needs at least one of epoch, step, loss or metrics');
  }
  return spec;
}

/**
 * `metrics: {NAME: KEY_PATH, ...}`: extra numbers the file source reads, shown with each snapshot
 * and usable by `retention.keep_best`. `epoch`, `step` and `loss` have their own keys.
 */
function fileMetrics(value: unknown, at: KeyPath, report: Report): Record<string, string> {
  const metrics: Record<string, string> = {};
  if (value === undefined || value === null) return metrics;
  if (typeof value !== 'object' || Array.isArray(value)) {
    report(at, 'must map metric names to key paths, e.g. {valid_loss: "$[-1].valid_loss", valid_acc: "$[-1].valid_acc"}');
    return metrics;
  }
  for (const [name, v] of Object.entries(value)) {
    if (name.trim() === '') report([...at, name], 'a metric needs a name, e.g. valid_loss');
    else if (name === 'epoch' || name === 'step' || name === 'loss') {
      report([...at, name], `"${name}" has its own key: write ${name}: ${JSON.stringify(typeof v === 'string' ? v : `$[-1].${name}`)} beside file, not under metrics`);
    } else {
      const keyPath = checkKeyPath(v, name, [...at, name], report);
      if (keyPath !== null) metrics[name] = keyPath;
    }
  }
  return metrics;
}

/** A key path as written (null when left out), reporting one that is not a string or does not parse. */
function checkKeyPath(value: unknown, name: string, at: KeyPath, report: Report): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') {
    report(at, `must be a key path such as "state.${name}", "log_history[-1].${name}" or "$[-1].${name}"`);
    return null;
  }
  try {
    parseKeyPath(value);
  } catch (err) {
    report(at, (err as Error).message);
  }
  return value;
}

/** The names of a regex's named groups. */
export function namedGroups(re: RegExp): string[] {
  // A regex's named groups show up on a match of the empty alternative.
  return Object.keys(new RegExp(`${re.source}|`).exec('')?.groups ?? {});
}
